// Loading a DICOM file and decoding its pixel data with DCMTK, behind the C API of CDicom.h.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dccodec.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcmetinf.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <cfloat>
#include <exception>
#include <fstream>
#include <limits>
#include <memory>
#include <new>
#include <sys/stat.h>
#include "CDicom.h"

struct mgmt_dicom_file {
    DcmFileFormat format;
    mgmt_dicom_header header;
    bool decompressed = false;
    /// A value readHeader could not accept (NumberOfFrames not a positive integer, an unknown transfer syntax):
    /// the file still opens, so its header can be inspected, but checkDecodable reports this.
    mgmt_dicom_error headerProblem{};
};

namespace {

mgmt_dicom_status fail(mgmt_dicom_error *error, mgmt_dicom_status status, const char *format, ...) {
    if (error) {
        error->status = status;
        va_list args;
        va_start(args, format);
        std::vsnprintf(error->message, sizeof error->message, format, args);
        va_end(args);
    }
    return status;
}

void copyString(DcmItem &item, const DcmTagKey &tag, char *out, size_t capacity) {
    OFString value;
    out[0] = '\0';
    if (item.findAndGetOFStringArray(tag, value).good()) {
        std::snprintf(out, capacity, "%s", value.c_str());
    }
}

/// Whether the file starts with the 128-byte preamble and "DICM" (Part 10).
bool hasPart10Preamble(const char *path) {
    std::ifstream stream(path, std::ios::binary);
    char bytes[132];
    if (!stream.read(bytes, sizeof bytes)) return false;
    return std::memcmp(bytes + 128, "DICM", 4) == 0;
}

/// A file without a preamble counts as DICOM only if DCMTK parsed it into something that looks like an image
/// or composite object; otherwise arbitrary bytes parsed as implicit VR would pass.
bool looksLikeDataset(DcmDataset &dataset) {
    return dataset.tagExists(DCM_SOPClassUID) || dataset.tagExists(DCM_PixelData) || dataset.tagExists(DCM_Rows);
}

/// The longest value a file of `fileSize` bytes can hold: its size, or for a deflated dataset what zlib can
/// inflate it to (at most 1032:1). DCMTK allocates a value's declared length before reading it, so a corrupt
/// length above this must not be read into memory (it is deferred instead, and the read then fails as truncated).
Uint32 longestPossibleValue(const char *path, uint64_t fileSize) {
    uint64_t longest = fileSize;
    DcmMetaInfo meta;
    OFString uid;
    if (meta.loadFile(OFFilename(path)).good() && meta.findAndGetOFString(DCM_TransferSyntaxUID, uid).good() &&
        DcmXfer(uid.c_str()).getStreamCompression() != ESC_none) {
        longest = fileSize * 1032;
    }
    return longest < std::numeric_limits<Uint32>::max() ? Uint32(longest) : std::numeric_limits<Uint32>::max();
}

/// NumberOfFrames (IS) when present: a positive integer and nothing else ("abc", "-1", "0", "2.5" are refused).
void readNumberOfFrames(DcmDataset &dataset, mgmt_dicom_file &file) {
    file.header.number_of_frames = 1;
    OFString text;
    if (dataset.findAndGetOFString(DCM_NumberOfFrames, text).bad() || text.empty()) return;
    errno = 0;
    char *end = nullptr;
    const long value = std::strtol(text.c_str(), &end, 10);
    while (end && *end == ' ') ++end;
    if (errno != 0 || end == text.c_str() || *end != '\0' || value < 1 || value > 65536) {
        fail(&file.headerProblem, MGMT_DICOM_INVALID_ATTRIBUTE,
             "NumberOfFrames (0028,0008) '%.32s' is not a frame count (1 to 65536)", text.c_str());
        return;
    }
    file.header.number_of_frames = Uint32(value);
}

/// A TransferSyntaxUID in the meta header that DCMTK does not know (e.g. "1.2.3.4") would otherwise be replaced
/// silently by whatever DCMTK guesses from the bytes.
void checkDeclaredTransferSyntax(mgmt_dicom_file &file) {
    OFString uid;
    DcmMetaInfo *meta = file.format.getMetaInfo();
    if (!meta || meta->findAndGetOFString(DCM_TransferSyntaxUID, uid).bad() || uid.empty()) return;
    if (DcmXfer(uid.c_str()).getXfer() != EXS_Unknown) return;
    mgmt_dicom_header &h = file.header;
    std::snprintf(h.transfer_syntax_uid, sizeof h.transfer_syntax_uid, "%s", uid.c_str());
    std::snprintf(h.transfer_syntax_name, sizeof h.transfer_syntax_name, "%s", "unknown");
    fail(&file.headerProblem, MGMT_DICOM_UNSUPPORTED_TRANSFER_SYNTAX, "unknown transfer syntax %.64s", uid.c_str());
}

void readHeader(mgmt_dicom_file &file) {
    DcmDataset &dataset = *file.format.getDataset();
    mgmt_dicom_header &h = file.header;
    std::memset(&h, 0, sizeof h);
    Uint16 u16 = 0;
    Sint32 s32 = 0;
    Float64 f64 = 0;
    if (dataset.findAndGetUint16(DCM_Rows, u16).good()) h.rows = u16;
    if (dataset.findAndGetUint16(DCM_Columns, u16).good()) h.columns = u16;
    readNumberOfFrames(dataset, file);
    if (dataset.findAndGetUint16(DCM_BitsAllocated, u16).good()) h.bits_allocated = u16;
    if (dataset.findAndGetUint16(DCM_BitsStored, u16).good()) h.bits_stored = u16;
    else h.bits_stored = h.bits_allocated;
    if (dataset.findAndGetUint16(DCM_HighBit, u16).good()) h.high_bit = u16;
    else h.high_bit = h.bits_stored ? h.bits_stored - 1 : 0;
    if (dataset.findAndGetUint16(DCM_PixelRepresentation, u16).good()) h.pixel_representation = u16;
    h.samples_per_pixel = 1;
    if (dataset.findAndGetUint16(DCM_SamplesPerPixel, u16).good()) h.samples_per_pixel = u16;
    h.rescale_slope = 1;
    if (dataset.findAndGetFloat64(DCM_RescaleSlope, f64).good() && f64 != 0) h.rescale_slope = f64;
    if (dataset.findAndGetFloat64(DCM_RescaleIntercept, f64).good()) h.rescale_intercept = f64;
    if (dataset.findAndGetSint32(DCM_InstanceNumber, s32).good()) {
        h.instance_number = s32;
        h.has_instance_number = 1;
    }
    h.has_image_position_patient = 1;
    for (unsigned long i = 0; i < 3; ++i) {
        if (dataset.findAndGetFloat64(DCM_ImagePositionPatient, h.image_position_patient[i], i).bad()) {
            h.has_image_position_patient = 0;
        }
    }
    h.has_image_orientation_patient = 1;
    for (unsigned long i = 0; i < 6; ++i) {
        if (dataset.findAndGetFloat64(DCM_ImageOrientationPatient, h.image_orientation_patient[i], i).bad()) {
            h.has_image_orientation_patient = 0;
        }
    }
    h.has_pixel_spacing = 1;
    for (unsigned long i = 0; i < 2; ++i) {
        if (dataset.findAndGetFloat64(DCM_PixelSpacing, h.pixel_spacing[i], i).bad()) h.has_pixel_spacing = 0;
    }
    if (dataset.findAndGetFloat64(DCM_SliceThickness, h.slice_thickness).good()) h.has_slice_thickness = 1;
    h.has_pixel_data = dataset.tagExists(DCM_PixelData) ? 1 : 0;
    copyString(dataset, DCM_PhotometricInterpretation, h.photometric_interpretation,
               sizeof h.photometric_interpretation);
    copyString(dataset, DCM_SeriesInstanceUID, h.series_instance_uid, sizeof h.series_instance_uid);
    copyString(dataset, DCM_StudyInstanceUID, h.study_instance_uid, sizeof h.study_instance_uid);
    copyString(dataset, DCM_SOPInstanceUID, h.sop_instance_uid, sizeof h.sop_instance_uid);
    copyString(dataset, DCM_PatientID, h.patient_id, sizeof h.patient_id);
    copyString(dataset, DCM_SeriesDescription, h.series_description, sizeof h.series_description);
    copyString(dataset, DCM_Modality, h.modality, sizeof h.modality);
    copyString(dataset, DCM_SOPClassUID, h.sop_class_uid, sizeof h.sop_class_uid);
    copyString(dataset, DCM_FrameOfReferenceUID, h.frame_of_reference_uid, sizeof h.frame_of_reference_uid);
    copyString(dataset, DCM_PatientName, h.patient_name, sizeof h.patient_name);
    copyString(dataset, DCM_PatientBirthDate, h.patient_birth_date, sizeof h.patient_birth_date);
    copyString(dataset, DCM_PatientSex, h.patient_sex, sizeof h.patient_sex);
    copyString(dataset, DCM_StudyDate, h.study_date, sizeof h.study_date);
    copyString(dataset, DCM_StudyTime, h.study_time, sizeof h.study_time);
    copyString(dataset, DCM_StudyID, h.study_id, sizeof h.study_id);
    copyString(dataset, DCM_AccessionNumber, h.accession_number, sizeof h.accession_number);
    copyString(dataset, DCM_ReferringPhysicianName, h.referring_physician_name, sizeof h.referring_physician_name);
    DcmXfer xfer(dataset.getOriginalXfer());
    std::snprintf(h.transfer_syntax_uid, sizeof h.transfer_syntax_uid, "%s", xfer.getXferID());
    std::snprintf(h.transfer_syntax_name, sizeof h.transfer_syntax_name, "%s", xfer.getXferName());
    checkDeclaredTransferSyntax(file);
}

/// Rejects what this reader cannot turn into one grey value per pixel, before any large allocation.
mgmt_dicom_status checkPixelFormat(const mgmt_dicom_header &h, mgmt_dicom_error *error) {
    if (h.rows == 0 || h.columns == 0 || h.rows > MGMT_DICOM_MAX_DIMENSION || h.columns > MGMT_DICOM_MAX_DIMENSION) {
        return fail(error, MGMT_DICOM_ABSURD_DIMENSIONS, "absurd image size %ux%u (Rows x Columns; limit %d)",
                    h.rows, h.columns, MGMT_DICOM_MAX_DIMENSION);
    }
    if (h.number_of_frames > 65536 ||
        uint64_t(h.rows) * h.columns * h.number_of_frames > (uint64_t(1) << 31)) {
        return fail(error, MGMT_DICOM_ABSURD_DIMENSIONS, "absurd frame count %u of %ux%u", h.number_of_frames,
                    h.rows, h.columns);
    }
    if (h.samples_per_pixel != 1) {
        return fail(error, MGMT_DICOM_UNSUPPORTED_PIXEL_FORMAT, "%u samples per pixel (%s); only greyscale is supported",
                    h.samples_per_pixel, h.photometric_interpretation);
    }
    // Absent is tolerated (old exports); anything else than greyscale is not, whatever SamplesPerPixel says.
    if (h.photometric_interpretation[0] != '\0' && std::strcmp(h.photometric_interpretation, "MONOCHROME1") != 0 &&
        std::strcmp(h.photometric_interpretation, "MONOCHROME2") != 0) {
        return fail(error, MGMT_DICOM_UNSUPPORTED_PIXEL_FORMAT,
                    "PhotometricInterpretation %s; only MONOCHROME1 and MONOCHROME2 are supported",
                    h.photometric_interpretation);
    }
    if (h.bits_allocated != 8 && h.bits_allocated != 16 && h.bits_allocated != 32) {
        return fail(error, MGMT_DICOM_UNSUPPORTED_PIXEL_FORMAT, "BitsAllocated %u is not supported", h.bits_allocated);
    }
    if (h.bits_stored == 0 || h.bits_stored > h.bits_allocated) {
        return fail(error, MGMT_DICOM_UNSUPPORTED_PIXEL_FORMAT, "BitsStored %u with BitsAllocated %u", h.bits_stored,
                    h.bits_allocated);
    }
    // The reader masks the low BitsStored bits, which is right only when the value ends at HighBit.
    if (h.high_bit != h.bits_stored - 1) {
        return fail(error, MGMT_DICOM_UNSUPPORTED_PIXEL_FORMAT, "HighBit %u with BitsStored %u (expected %u)",
                    h.high_bit, h.bits_stored, h.bits_stored - 1);
    }
    if (h.pixel_representation > 1) {
        return fail(error, MGMT_DICOM_UNSUPPORTED_PIXEL_FORMAT,
                    "PixelRepresentation %u (0 unsigned or 1 two's complement)", h.pixel_representation);
    }
    return MGMT_DICOM_OK;
}

/// Values beyond these are not a scanner's (1 km positions, 10 m voxels) and would overflow the products and
/// sums slice ordering and normalisation make; direction cosines are at most 1 (a little slack for rounding).
constexpr double kMaximumCoordinate = 1e6, kMaximumSpacing = 1e4, kMaximumCosine = 1.01;

mgmt_dicom_status checkRange(const char *attribute, const double *values, int count, double minimum,
                             double maximum, mgmt_dicom_error *error) {
    for (int i = 0; i < count; ++i) {
        if (!std::isfinite(values[i])) {
            return fail(error, MGMT_DICOM_INVALID_ATTRIBUTE, "%s value %d is not finite (%g)", attribute, i + 1,
                        values[i]);
        }
        if (values[i] < minimum || values[i] > maximum) {
            return fail(error, MGMT_DICOM_INVALID_ATTRIBUTE, "%s value %d is out of range: %g (allowed %g to %g)",
                        attribute, i + 1, values[i], minimum, maximum);
        }
    }
    return MGMT_DICOM_OK;
}

/// Rescale and geometry values must be finite and plausible, and rescaled values must fit a float: one bad file
/// must fail alone here rather than poison its series' arrays and JSON later.
mgmt_dicom_status checkValues(const mgmt_dicom_header &h, mgmt_dicom_error *error) {
    const double rescale[2] = {h.rescale_slope, h.rescale_intercept};
    const char *names[2] = {"RescaleSlope (0028,1053)", "RescaleIntercept (0028,1052)"};
    for (int i = 0; i < 2; ++i) {
        mgmt_dicom_status status = checkRange(names[i], &rescale[i], 1, -DBL_MAX, DBL_MAX, error);
        if (status != MGMT_DICOM_OK) return status;
    }
    const double largestStored = std::ldexp(1.0, int(h.bits_stored));
    if (std::fabs(h.rescale_slope) * largestStored + std::fabs(h.rescale_intercept) > double(FLT_MAX)) {
        return fail(error, MGMT_DICOM_INVALID_ATTRIBUTE,
                    "RescaleSlope (0028,1053) %g and RescaleIntercept (0028,1052) %g overflow a float for "
                    "%u-bit values", h.rescale_slope, h.rescale_intercept, h.bits_stored);
    }
    mgmt_dicom_status status = MGMT_DICOM_OK;
    if (h.has_image_position_patient) {
        status = checkRange("ImagePositionPatient (0020,0032)", h.image_position_patient, 3, -kMaximumCoordinate,
                            kMaximumCoordinate, error);
    }
    if (status == MGMT_DICOM_OK && h.has_image_orientation_patient) {
        status = checkRange("ImageOrientationPatient (0020,0037)", h.image_orientation_patient, 6, -kMaximumCosine,
                            kMaximumCosine, error);
    }
    if (status == MGMT_DICOM_OK && h.has_pixel_spacing) {
        status = checkRange("PixelSpacing (0028,0030)", h.pixel_spacing, 2, 0, kMaximumSpacing, error);
    }
    if (status == MGMT_DICOM_OK && h.has_slice_thickness) {
        status = checkRange("SliceThickness (0018,0050)", &h.slice_thickness, 1, 0, kMaximumSpacing, error);
    }
    return status;
}

mgmt_dicom_status unsupportedSyntax(const mgmt_dicom_header &h, mgmt_dicom_error *error) {
    return fail(error, MGMT_DICOM_UNSUPPORTED_TRANSFER_SYNTAX,
                "unsupported transfer syntax %s (%s): DCMTK has no decoder for it", h.transfer_syntax_name,
                h.transfer_syntax_uid);
}

/// The header-level checks: what readHeader refused, pixel format, the values, then whether a decoder exists
/// for an encapsulated syntax and whether native pixel data is as long as the header says.
mgmt_dicom_status checkDecodable(mgmt_dicom_file &file, mgmt_dicom_error *error) {
    const mgmt_dicom_header &h = file.header;
    if (!h.has_pixel_data) return fail(error, MGMT_DICOM_NO_PIXEL_DATA, "no pixel data (7FE0,0010)");
    if (file.headerProblem.status != MGMT_DICOM_OK) {
        if (error) *error = file.headerProblem;
        return file.headerProblem.status;
    }
    mgmt_dicom_status status = checkPixelFormat(h, error);
    if (status == MGMT_DICOM_OK) status = checkValues(h, error);
    if (status != MGMT_DICOM_OK) return status;
    DcmDataset &dataset = *file.format.getDataset();
    const E_TransferSyntax original = dataset.getOriginalXfer();
    if (DcmXfer(original).isEncapsulated()) {
        if (!DcmCodecList::canChangeCoding(original, EXS_LittleEndianExplicit)) return unsupportedSyntax(h, error);
        return MGMT_DICOM_OK;
    }
    // Native data: a header promising more values than the file holds must not make the caller allocate them.
    DcmElement *pixels = nullptr;
    const uint64_t needed = uint64_t(h.rows) * h.columns * h.number_of_frames * (h.bits_allocated / 8);
    if (dataset.findAndGetElement(DCM_PixelData, pixels).good() && pixels && pixels->getLengthField() < needed) {
        return fail(error, MGMT_DICOM_TRUNCATED,
                    "pixel data truncated: %lu bytes, %llu expected for %u frame(s) of %ux%u",
                    static_cast<unsigned long>(pixels->getLengthField()), static_cast<unsigned long long>(needed),
                    h.number_of_frames, h.rows, h.columns);
    }
    return MGMT_DICOM_OK;
}

/// Decompresses (if needed) and returns the native little-endian pixel element with at least `bytes` bytes.
mgmt_dicom_status nativePixels(mgmt_dicom_file &file, size_t bytes, DcmElement *&element, mgmt_dicom_error *error) {
    DcmDataset &dataset = *file.format.getDataset();
    const mgmt_dicom_header &h = file.header;
    if (!file.decompressed) {
        OFCondition status = dataset.chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
        if (status.bad()) {
            DcmXfer xfer(dataset.getOriginalXfer());
            if (xfer.isEncapsulated() && !dataset.canWriteXfer(EXS_LittleEndianExplicit)) {
                return unsupportedSyntax(h, error);
            }
            return fail(error, MGMT_DICOM_DECODE_FAILED, "cannot decode %s pixel data: %s", h.transfer_syntax_name,
                        status.text());
        }
        file.decompressed = true;
    }
    if (dataset.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
        return fail(error, MGMT_DICOM_NO_PIXEL_DATA, "no pixel data (7FE0,0010)");
    }
    if (element->getLength() < bytes) {
        return fail(error, MGMT_DICOM_TRUNCATED, "pixel data truncated: %lu bytes, %zu expected for %u frame(s) of %ux%u",
                    static_cast<unsigned long>(element->getLength()), bytes, h.number_of_frames, h.rows, h.columns);
    }
    return MGMT_DICOM_OK;
}

/// Raw words → stored value: mask to BitsStored, then sign-extend for signed data (two's complement).
struct StoredValue {
    uint32_t mask;
    uint32_t signBit;
    bool isSigned;
    explicit StoredValue(const mgmt_dicom_header &h)
        : mask(h.bits_stored >= 32 ? 0xFFFFFFFFu : (1u << h.bits_stored) - 1),
          signBit(1u << (h.bits_stored - 1)),
          isSigned(h.pixel_representation == 1) {}
    int64_t operator()(uint32_t raw) const {
        uint32_t v = raw & mask;
        if (isSigned && (v & signBit)) return int64_t(v) - int64_t(mask) - 1;
        return v;
    }
};

template <typename Output, typename Convert>
mgmt_dicom_status readPixels(mgmt_dicom_file *file, Output *out, size_t capacity, mgmt_dicom_error *error,
                             Convert convert) {
    if (!file || !out) return fail(error, MGMT_DICOM_INTERNAL, "null argument");
    try {
        const mgmt_dicom_header &h = file->header;
        mgmt_dicom_status status = checkDecodable(*file, error);
        if (status != MGMT_DICOM_OK) return status;
        const size_t count = mgmt_dicom_value_count(file);
        if (capacity < count) {
            return fail(error, MGMT_DICOM_BUFFER_TOO_SMALL, "buffer of %zu values, %zu needed", capacity, count);
        }
        DcmElement *element = nullptr;
        status = nativePixels(*file, count * (h.bits_allocated / 8), element, error);
        if (status != MGMT_DICOM_OK) return status;
        const StoredValue stored(h);
        OFCondition got;
        if (h.bits_allocated == 8) {
            Uint8 *bytes = nullptr;
            got = element->getUint8Array(bytes);
            if (got.good() && bytes) for (size_t i = 0; i < count; ++i) out[i] = convert(stored(bytes[i]));
        } else {
            // DCMTK keeps OW data as 16-bit words in host byte order; 32-bit samples are two words, low first.
            Uint16 *words = nullptr;
            got = element->getUint16Array(words);
            if (got.good() && words) {
                if (h.bits_allocated == 16) {
                    for (size_t i = 0; i < count; ++i) out[i] = convert(stored(words[i]));
                } else {
                    for (size_t i = 0; i < count; ++i) {
                        out[i] = convert(stored(uint32_t(words[2 * i]) | (uint32_t(words[2 * i + 1]) << 16)));
                    }
                }
            }
        }
        if (got.bad()) return fail(error, MGMT_DICOM_DECODE_FAILED, "cannot access pixel data: %s", got.text());
        return MGMT_DICOM_OK;
    } catch (const std::bad_alloc &) {
        return fail(error, MGMT_DICOM_INTERNAL, "out of memory while decoding pixel data");
    } catch (const std::exception &e) {
        return fail(error, MGMT_DICOM_INTERNAL, "DCMTK failed: %s", e.what());
    } catch (...) {
        return fail(error, MGMT_DICOM_INTERNAL, "DCMTK failed with an unknown exception");
    }
}

}  // namespace

extern "C" mgmt_dicom_file *mgmt_dicom_open(const char *path, int defer_large_values, mgmt_dicom_error *error) {
    mgmt_dicom_register_codecs();
    if (error) {
        error->status = MGMT_DICOM_OK;
        error->message[0] = '\0';
    }
    if (!path) {
        fail(error, MGMT_DICOM_INTERNAL, "null path");
        return nullptr;
    }
    try {
        struct stat info;
        if (stat(path, &info) != 0) {
            fail(error, MGMT_DICOM_UNREADABLE, "cannot open: %s", std::strerror(errno));
            return nullptr;
        }
        if (!S_ISREG(info.st_mode)) {
            fail(error, MGMT_DICOM_UNREADABLE, "not a regular file");
            return nullptr;
        }
        if (info.st_size == 0) {
            fail(error, MGMT_DICOM_NOT_DICOM, "not DICOM: the file is empty (0 bytes)");
            return nullptr;
        }
        {
            std::ifstream probe(path, std::ios::binary);
            if (!probe) {
                fail(error, MGMT_DICOM_UNREADABLE, "cannot open: %s", std::strerror(errno));
                return nullptr;
            }
        }
        const bool part10 = hasPart10Preamble(path);
        std::unique_ptr<mgmt_dicom_file> file(new mgmt_dicom_file());
        // Either every element now (one pass over the file, no re-open when decoding) or only the small ones.
        // Never more than the file can hold: a corrupt length must not become an allocation of gigabytes.
        const Uint32 maxReadLength =
            defer_large_values ? DCM_MaxReadLength : longestPossibleValue(path, uint64_t(info.st_size));
        OFCondition status = file->format.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, maxReadLength,
                                                   ERM_autoDetect);
        DcmDataset *dataset = file->format.getDataset();
        if (status.bad()) {
            if (!part10 && (!dataset || !looksLikeDataset(*dataset))) {
                fail(error, MGMT_DICOM_NOT_DICOM, "not DICOM: no DICM preamble and no parseable dataset");
            } else {
                fail(error, MGMT_DICOM_TRUNCATED, "truncated or corrupt: %s", status.text());
            }
            return nullptr;
        }
        if (!dataset || (!part10 && !looksLikeDataset(*dataset))) {
            fail(error, MGMT_DICOM_NOT_DICOM, "not DICOM: no DICM preamble and no parseable dataset");
            return nullptr;
        }
        readHeader(*file);
        return file.release();
    } catch (const std::bad_alloc &) {
        fail(error, MGMT_DICOM_INTERNAL, "out of memory while loading");
    } catch (const std::exception &e) {
        fail(error, MGMT_DICOM_INTERNAL, "DCMTK failed: %s", e.what());
    } catch (...) {
        fail(error, MGMT_DICOM_INTERNAL, "DCMTK failed with an unknown exception");
    }
    return nullptr;
}

extern "C" void mgmt_dicom_close(mgmt_dicom_file *file) { delete file; }

extern "C" const mgmt_dicom_header *mgmt_dicom_get_header(const mgmt_dicom_file *file) {
    return file ? &file->header : nullptr;
}

extern "C" mgmt_dicom_status mgmt_dicom_check_decodable(mgmt_dicom_file *file, mgmt_dicom_error *error) {
    if (!file) return fail(error, MGMT_DICOM_INTERNAL, "null file");
    try {
        return checkDecodable(*file, error);
    } catch (...) {
        return fail(error, MGMT_DICOM_INTERNAL, "DCMTK failed while checking the pixel format");
    }
}

extern "C" size_t mgmt_dicom_value_count(const mgmt_dicom_file *file) {
    if (!file) return 0;
    const mgmt_dicom_header &h = file->header;
    return size_t(h.rows) * h.columns * h.number_of_frames;
}

extern "C" mgmt_dicom_status mgmt_dicom_read_stored(mgmt_dicom_file *file, int32_t *out, size_t capacity,
                                                    mgmt_dicom_error *error) {
    return readPixels(file, out, capacity, error, [](int64_t v) { return int32_t(v); });
}

extern "C" mgmt_dicom_status mgmt_dicom_read_rescaled(mgmt_dicom_file *file, float *out, size_t capacity,
                                                      mgmt_dicom_error *error) {
    if (!file) return fail(error, MGMT_DICOM_INTERNAL, "null file");
    const double slope = file->header.rescale_slope, intercept = file->header.rescale_intercept;
    if (slope == 1 && intercept == 0) {
        return readPixels(file, out, capacity, error, [](int64_t v) { return float(v); });
    }
    return readPixels(file, out, capacity, error, [=](int64_t v) { return float(double(v) * slope + intercept); });
}

namespace {

/// A US or SS value of a LUTDescriptor (its VR depends on PixelRepresentation).
bool descriptorValue(DcmItem &item, unsigned long index, int32_t &value) {
    Uint16 u16 = 0;
    Sint16 s16 = 0;
    if (item.findAndGetUint16(DCM_LUTDescriptor, u16, index).good()) {
        value = u16;
        return true;
    }
    if (item.findAndGetSint16(DCM_LUTDescriptor, s16, index).good()) {
        value = s16;
        return true;
    }
    return false;
}

}  // namespace

extern "C" mgmt_dicom_status mgmt_dicom_get_voi(mgmt_dicom_file *file, mgmt_dicom_voi *voi, uint16_t *lut_data,
                                                size_t capacity, mgmt_dicom_error *error) {
    if (!file || !voi) return fail(error, MGMT_DICOM_INTERNAL, "null argument");
    try {
        std::memset(voi, 0, sizeof *voi);
        DcmDataset &dataset = *file->format.getDataset();
        voi->has_window = dataset.findAndGetFloat64(DCM_WindowCenter, voi->window_center, 0).good() &&
                          dataset.findAndGetFloat64(DCM_WindowWidth, voi->window_width, 0).good();
        copyString(dataset, DCM_VOILUTFunction, voi->voi_lut_function, sizeof voi->voi_lut_function);
        DcmItem *item = nullptr;
        if (dataset.findAndGetSequenceItem(DCM_VOILUTSequence, item, 0).good() && item) {
            const Uint16 *words = nullptr;
            unsigned long count = 0;
            int32_t entries = 0, first = 0, bits = 0;
            if (descriptorValue(*item, 0, entries) && descriptorValue(*item, 1, first) &&
                descriptorValue(*item, 2, bits) && item->findAndGetUint16Array(DCM_LUTData, words, &count).good() &&
                words && count > 0) {
                voi->has_voi_lut = 1;
                voi->lut_entries = entries;
                voi->lut_first_mapped = first;
                voi->lut_bits = bits;
                voi->lut_data_count = count;
                if (lut_data) std::memcpy(lut_data, words, sizeof(Uint16) * std::min<size_t>(count, capacity));
            }
        }
        Float64 slope = 0, intercept = 0;
        if (dataset.findAndGetFloat64(DCM_RescaleSlope, slope).good() &&
            dataset.findAndGetFloat64(DCM_RescaleIntercept, intercept).good()) {
            voi->has_rescale = 1;
            voi->rescale_slope = slope;
            voi->rescale_intercept = intercept;
        }
        item = nullptr;
        int32_t bits = 0;
        if (dataset.findAndGetSequenceItem(DCM_ModalityLUTSequence, item, 0).good() && item &&
            descriptorValue(*item, 2, bits)) {
            voi->has_modality_lut = 1;
            voi->modality_lut_bits = bits;
        }
        return MGMT_DICOM_OK;
    } catch (...) {
        return fail(error, MGMT_DICOM_INTERNAL, "DCMTK failed while reading the VOI LUT module");
    }
}
