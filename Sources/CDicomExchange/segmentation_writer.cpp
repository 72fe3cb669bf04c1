// The binary Segmentation writer (dcmseg): whole tumour and enhancing tumour over the source series' slices.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmfg/fgderimg.h"
#include "dcmtk/dcmfg/fgfracon.h"
#include "dcmtk/dcmfg/fgpixmsr.h"
#include "dcmtk/dcmfg/fgplanor.h"
#include "dcmtk/dcmfg/fgplanpo.h"
#include "dcmtk/dcmseg/segdoc.h"
#include "dcmtk/dcmseg/segment.h"
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include "common.h"

using namespace mgmt_exchange;

namespace {

struct SegmentDefinition {
    const char *label;
    const char *description;
    CodeSequenceMacro type;
};

/// Segment codes from DICOM CID 7151 (Segmentation Property Types) under the category
/// SCT 49755003 "Morphologically Abnormal Structure": SCT 108369006 "Neoplasm" for the whole tumour; the
/// enhancing part has no SNOMED CT concept in CID 7151, which lists NCIt C113842 "Enhancing Lesion".
SegmentDefinition segmentDefinition(int index) {
    if (index == 0) {
        return {"Whole tumour", "Tumour with oedema (WT)", CodeSequenceMacro("108369006", "SCT", "Neoplasm")};
    }
    return {"Enhancing tumour", "Contrast-enhancing tumour (ET)", CodeSequenceMacro("C113842", "NCIt", "Enhancing Lesion")};
}

bool hasAnyPixel(const uint8_t *mask, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        if (mask[i]) return true;
    }
    return false;
}

mgmt_exchange_status check(OFCondition cond, mgmt_exchange_error *error, const char *what) {
    if (cond.good()) return MGMT_EXCHANGE_OK;
    return fail(error, MGMT_EXCHANGE_ENCODE, "segmentation: %s: %s", what, cond.text());
}

}  // namespace

extern "C" mgmt_exchange_status mgmt_seg_write(const mgmt_seg_request *r, const char *path, size_t *frame_count,
                                               mgmt_exchange_error *error) {
    clear(error);
    if (frame_count) *frame_count = 0;
    if (!r || !path || !r->slices || !r->masks || r->slice_count == 0 || r->rows == 0 || r->columns == 0) {
        return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "segmentation: slices, masks and a size are required");
    }
    if (!nonEmpty(r->study.study_instance_uid) || !nonEmpty(r->source_series_instance_uid) ||
        !nonEmpty(r->frame_of_reference_uid) || !nonEmpty(r->series_instance_uid) || !nonEmpty(r->sop_instance_uid)) {
        return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT,
                    "segmentation: study, source series, frame of reference, series and SOP instance UIDs are required");
    }
    for (size_t i = 0; i < r->slice_count; ++i) {
        if (!nonEmpty(r->slices[i].sop_class_uid) || !nonEmpty(r->slices[i].sop_instance_uid)) {
            return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "segmentation: source slice %zu has no SOP UIDs", i);
        }
    }
    return guarded(error, "writing a segmentation", [&]() -> mgmt_exchange_status {
        IODGeneralEquipmentModule::EquipmentInfo equipment(nonEmptyOr(r->manufacturer, "mgmt-fleet"),
                                                           nonEmptyOr(r->algorithm_name, "mgmt-fleet"), "1",
                                                           nonEmptyOr(r->software_version, "1"));
        ContentIdentificationMacro content("1", "TUMOUR", nonEmptyOr(r->series_description, "Tumour segmentation"),
                                           "");
        DcmSegmentation *created = nullptr;
        mgmt_exchange_status status =
            check(DcmSegmentation::createBinarySegmentation(created, r->rows, r->columns, equipment, content), error,
                  "create");
        if (status != MGMT_EXCHANGE_OK) return status;
        std::unique_ptr<DcmSegmentation> seg(created);

        const std::string seriesNumber = std::to_string(r->series_number);
        status = check(seg->getSeries().setSeriesInstanceUID(r->series_instance_uid), error, "series UID");
        if (status == MGMT_EXCHANGE_OK) status = check(seg->getSeries().setSeriesNumber(seriesNumber.c_str()), error, "series number");
        if (status == MGMT_EXCHANGE_OK && nonEmpty(r->series_description)) {
            status = check(seg->getSeries().setSeriesDescription(r->series_description), error, "series description");
        }
        if (status == MGMT_EXCHANGE_OK) status = check(seg->getSOPCommon().setSOPInstanceUID(r->sop_instance_uid), error, "SOP instance UID");
        if (status == MGMT_EXCHANGE_OK) {
            status = check(seg->getFrameOfReference().setFrameOfReferenceUID(r->frame_of_reference_uid), error,
                           "frame of reference");
        }
        if (status != MGMT_EXCHANGE_OK) return status;

        for (int index = 0; index < 2; ++index) {
            SegmentDefinition definition = segmentDefinition(index);
            DcmSegment *segment = nullptr;
            status = check(DcmSegment::create(segment, definition.label,
                                              CodeSequenceMacro("49755003", "SCT", "Morphologically Abnormal Structure"),
                                              definition.type, DcmSegTypes::SAT_AUTOMATIC,
                                              nonEmptyOr(r->algorithm_name, "mgmt-fleet")),
                           error, "segment");
            if (status != MGMT_EXCHANGE_OK) return status;
            std::unique_ptr<DcmSegment> owned(segment);
            segment->setSegmentDescription(definition.description);
            AlgorithmIdentificationMacro &algorithm = segment->getSegmentationAlgorithmIdentification();
            algorithm.getAlgorithmFamilyCode().set("123110", "DCM", "Artificial Intelligence");
            algorithm.setAlgorithmName(nonEmptyOr(r->algorithm_name, "mgmt-fleet"));
            algorithm.setAlgorithmVersion(nonEmptyOr(r->algorithm_version, "unknown"));
            Uint16 number = 0;
            status = check(seg->addSegment(segment, number), error, "add segment");
            if (status != MGMT_EXCHANGE_OK) return status;
            owned.release();  // the segmentation owns it now
        }

        // Geometry shared by every frame: orientation and pixel measures of the source series.
        const double *o = r->image_orientation_patient;
        std::unique_ptr<FGPlaneOrientationPatient> orientation(FGPlaneOrientationPatient::createMinimal(
            decimal(o[0]).c_str(), decimal(o[1]).c_str(), decimal(o[2]).c_str(), decimal(o[3]).c_str(),
            decimal(o[4]).c_str(), decimal(o[5]).c_str()));
        FGPixelMeasures measures;
        measures.setPixelSpacing((decimal(r->pixel_spacing[0]) + "\\" + decimal(r->pixel_spacing[1])).c_str());
        if (r->slice_thickness > 0) measures.setSliceThickness(decimal(r->slice_thickness).c_str());
        if (!orientation) return fail(error, MGMT_EXCHANGE_ENCODE, "segmentation: bad orientation");
        status = check(seg->addForAllFrames(*orientation), error, "orientation");
        if (status == MGMT_EXCHANGE_OK) status = check(seg->addForAllFrames(measures), error, "pixel measures");
        if (status != MGMT_EXCHANGE_OK) return status;

        // Frames are indexed by (segment number, position in the series).
        char dimensionUID[100];
        dcmGenerateUniqueIdentifier(dimensionUID, SITE_INSTANCE_UID_ROOT);
        IODMultiframeDimensionModule &dimensions = seg->getDimensions();
        status = check(dimensions.addDimensionIndex(DCM_ReferencedSegmentNumber, dimensionUID,
                                                    DCM_SegmentIdentificationSequence, "ReferencedSegmentNumber"),
                       error, "segment dimension");
        if (status == MGMT_EXCHANGE_OK) {
            status = check(dimensions.addDimensionIndex(DCM_ImagePositionPatient, dimensionUID,
                                                        DCM_PlanePositionSequence, "ImagePositionPatient"),
                           error, "position dimension");
        }
        if (status != MGMT_EXCHANGE_OK) return status;

        const size_t pixels = size_t(r->rows) * r->columns;
        std::set<size_t> referencedSlices;
        size_t frames = 0;
        for (Uint16 segmentNumber = 1; segmentNumber <= 2; ++segmentNumber) {
            for (size_t i = 0; i < r->slice_count; ++i) {
                const uint8_t *mask = r->masks + (i * 2 + (segmentNumber - 1)) * pixels;
                if (!hasAnyPixel(mask, pixels)) continue;
                const mgmt_seg_source_slice &slice = r->slices[i];
                const double *p = slice.image_position_patient;
                std::unique_ptr<FGPlanePosPatient> position(FGPlanePosPatient::createMinimal(
                    decimal(p[0]).c_str(), decimal(p[1]).c_str(), decimal(p[2]).c_str()));
                FGFrameContent frameContent;
                frameContent.setDimensionIndexValues(segmentNumber, 0);
                frameContent.setDimensionIndexValues(Uint32(i + 1), 1);
                ImageSOPInstanceReferenceMacro *reference = nullptr;
                status = check(ImageSOPInstanceReferenceMacro::create(slice.sop_class_uid, slice.sop_instance_uid,
                                                                      reference),
                               error, "source reference");
                if (status != MGMT_EXCHANGE_OK) return status;
                OFVector<ImageSOPInstanceReferenceMacro> sources(1, *reference);
                delete reference;
                std::unique_ptr<FGDerivationImage> derivation(
                    DcmSegmentation::createDerivationImageFG(sources, "Segmented by a neural network"));
                if (!position || !derivation) return fail(error, MGMT_EXCHANGE_ENCODE, "segmentation: frame %zu", frames);
                OFVector<FGBase *> perFrame;
                perFrame.push_back(position.get());
                perFrame.push_back(&frameContent);
                perFrame.push_back(derivation.get());
                status = check(seg->addFrame(const_cast<Uint8 *>(mask), segmentNumber, perFrame), error, "frame");
                if (status != MGMT_EXCHANGE_OK) return status;
                referencedSlices.insert(i);
                ++frames;
            }
        }
        if (frames == 0) return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "segmentation: no mask pixel in any slice");

        DcmFileFormat file;
        DcmDataset &dataset = *file.getDataset();
        status = check(seg->writeDataset(dataset), error, "encode");
        if (status != MGMT_EXCHANGE_OK) return status;
        status = writeStudyAttributes(dataset, r->study, error);
        if (status != MGMT_EXCHANGE_OK) return status;

        // Common Instance Reference: the source series and the images the frames were derived from.
        DcmItem *series = nullptr;
        dataset.findOrCreateSequenceItem(DCM_ReferencedSeriesSequence, series, 0);
        if (!series) return fail(error, MGMT_EXCHANGE_ENCODE, "segmentation: referenced series");
        series->putAndInsertString(DCM_SeriesInstanceUID, r->source_series_instance_uid);
        long item = 0;
        for (size_t i : referencedSlices) {
            DcmItem *instance = nullptr;
            series->findOrCreateSequenceItem(DCM_ReferencedInstanceSequence, instance, item++);
            if (!instance) return fail(error, MGMT_EXCHANGE_ENCODE, "segmentation: referenced instance");
            instance->putAndInsertString(DCM_ReferencedSOPClassUID, r->slices[i].sop_class_uid);
            instance->putAndInsertString(DCM_ReferencedSOPInstanceUID, r->slices[i].sop_instance_uid);
        }
        status = check(file.saveFile(path, EXS_LittleEndianExplicit), error, "save");
        if (status != MGMT_EXCHANGE_OK) return status;
        if (frame_count) *frame_count = frames;
        return MGMT_EXCHANGE_OK;
    });
}
