// C API over DCMTK: the only place that touches DCMTK. No C++ exception crosses it; every failure is a
// status code plus a message.
#ifndef MGMT_CDICOM_H
#define MGMT_CDICOM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MGMT_DICOM_OK = 0,
    MGMT_DICOM_UNREADABLE = 1,              // missing, a directory, no permission
    MGMT_DICOM_NOT_DICOM = 2,               // neither a DICM preamble nor a parseable dataset
    MGMT_DICOM_TRUNCATED = 3,               // ends early (dataset or pixel data shorter than declared)
    MGMT_DICOM_NO_PIXEL_DATA = 4,
    MGMT_DICOM_UNSUPPORTED_TRANSFER_SYNTAX = 5,  // e.g. JPEG 2000: free DCMTK has no decoder
    MGMT_DICOM_ABSURD_DIMENSIONS = 6,       // Rows/Columns 0 or > MGMT_DICOM_MAX_DIMENSION
    MGMT_DICOM_UNSUPPORTED_PIXEL_FORMAT = 7,  // colour, 1-bit, bits stored > allocated ...
    MGMT_DICOM_DECODE_FAILED = 8,           // the codec rejected the compressed stream
    MGMT_DICOM_BUFFER_TOO_SMALL = 9,
    MGMT_DICOM_INTERNAL = 10,               // a C++ exception or allocation failure inside DCMTK
    MGMT_DICOM_INVALID_ATTRIBUTE = 11,      // a value not a number, not finite or out of range (message names it)
} mgmt_dicom_status;

enum { MGMT_DICOM_MAX_DIMENSION = 8192, MGMT_DICOM_MESSAGE_CAPACITY = 512 };

typedef struct {
    mgmt_dicom_status status;
    char message[MGMT_DICOM_MESSAGE_CAPACITY];  // NUL-terminated, without the file name
} mgmt_dicom_error;

typedef struct {
    uint32_t rows, columns, number_of_frames;
    uint32_t bits_allocated, bits_stored, high_bit, pixel_representation, samples_per_pixel;
    double rescale_slope, rescale_intercept;        // 1 and 0 when absent
    int32_t instance_number;
    int32_t has_instance_number;
    double image_position_patient[3];
    int32_t has_image_position_patient;
    double image_orientation_patient[6];
    int32_t has_image_orientation_patient;
    double pixel_spacing[2];                        // row spacing, column spacing
    int32_t has_pixel_spacing;
    double slice_thickness;
    int32_t has_slice_thickness;
    int32_t has_pixel_data;
    char photometric_interpretation[32];
    char series_instance_uid[72];
    char study_instance_uid[72];
    char sop_instance_uid[72];
    char patient_id[72];
    char series_description[128];
    char modality[20];
    char transfer_syntax_uid[72];
    char transfer_syntax_name[128];
    // What a derived object (segmentation, report) references or copies from its source.
    char sop_class_uid[72];
    char frame_of_reference_uid[72];
    char patient_name[200];
    char patient_birth_date[20];
    char patient_sex[20];
    char study_date[20];
    char study_time[32];
    char study_id[20];
    char accession_number[20];
    char referring_physician_name[200];
} mgmt_dicom_header;

/// Opaque loaded file. One handle must not be used from two threads at once; distinct handles may.
typedef struct mgmt_dicom_file mgmt_dicom_file;

/// Registers DCMTK's JPEG, JPEG-LS and RLE decoders and quietens DCMTK's own logging; once per process.
/// mgmt_dicom_open calls it, so callers need not.
void mgmt_dicom_register_codecs(void);

/// Loads a file and reads its header. With `defer_large_values` non-zero, values over 4 KB (the pixel data)
/// are skipped now and read from the file when first used: cheap header scans. Returns NULL and fills
/// `error` on failure.
mgmt_dicom_file *mgmt_dicom_open(const char *path, int defer_large_values, mgmt_dicom_error *error);
void mgmt_dicom_close(mgmt_dicom_file *file);
const mgmt_dicom_header *mgmt_dicom_get_header(const mgmt_dicom_file *file);

/// Whether the pixel data can be decoded into trustworthy values, judged from the header alone: pixel data
/// present, sane size, a greyscale pixel description (PhotometricInterpretation, SamplesPerPixel, BitsAllocated,
/// BitsStored, HighBit, PixelRepresentation, NumberOfFrames), a known transfer syntax with a decoder, and finite,
/// plausible RescaleSlope/Intercept, ImagePositionPatient, ImageOrientationPatient, PixelSpacing and
/// SliceThickness. mgmt_dicom_read_* make the same checks.
mgmt_dicom_status mgmt_dicom_check_decodable(mgmt_dicom_file *file, mgmt_dicom_error *error);

/// Number of values mgmt_dicom_read_* writes: rows × columns × frames (one sample per pixel).
size_t mgmt_dicom_value_count(const mgmt_dicom_file *file);

/// Decodes the pixel data (decompressing if needed) into `out`, frames one after another, each row-major:
/// the stored values (masked to BitsStored, sign-extended when PixelRepresentation is 1), as pydicom's
/// pixel_array gives them.
mgmt_dicom_status mgmt_dicom_read_stored(mgmt_dicom_file *file, int32_t *out, size_t capacity,
                                         mgmt_dicom_error *error);
/// The same values times RescaleSlope plus RescaleIntercept, as float.
mgmt_dicom_status mgmt_dicom_read_rescaled(mgmt_dicom_file *file, float *out, size_t capacity,
                                           mgmt_dicom_error *error);

/// The VOI LUT module and what pydicom's `apply_voi_lut` reads beside it (first item / first value only, as
/// pydicom's index 0). Strings and absent values are empty or zero; `has_*` say what is present and non-empty.
typedef struct {
    int32_t has_window;                  // WindowCenter and WindowWidth both present with a first value
    double window_center, window_width;
    char voi_lut_function[32];           // VOILUTFunction as written (empty when absent)
    int32_t has_voi_lut;                 // VOILUTSequence item 1 with LUTDescriptor (3 values) and LUTData
    int32_t lut_entries;                 // LUTDescriptor[0] as written (0 means 65536)
    int32_t lut_first_mapped;            // LUTDescriptor[1] (signed when the element is SS)
    int32_t lut_bits;                    // LUTDescriptor[2]
    size_t lut_data_count;               // words in LUTData
    int32_t has_rescale;                 // RescaleSlope and RescaleIntercept both present (raw values below)
    double rescale_slope, rescale_intercept;
    int32_t has_modality_lut;            // ModalityLUTSequence item 1 with a LUTDescriptor
    int32_t modality_lut_bits;           // its LUTDescriptor[2]
} mgmt_dicom_voi;

/// Reads the VOI attributes into `voi` and, when `lut_data` is not NULL, up to `capacity` words of LUTData.
mgmt_dicom_status mgmt_dicom_get_voi(mgmt_dicom_file *file, mgmt_dicom_voi *voi, uint16_t *lut_data, size_t capacity,
                                     mgmt_dicom_error *error);

#ifdef __cplusplus
}
#endif
#endif
