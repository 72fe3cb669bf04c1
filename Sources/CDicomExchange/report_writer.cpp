// The Comprehensive SR writer (dcmsr). The content tree is documented with DICOMStructuredReport in Swift.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmsr/dsrdoc.h"
#include <string>
#include "common.h"

using namespace mgmt_exchange;

namespace {

const char *const kScheme = "99MGMT";  // private coding scheme of this project's concepts

const DSRCodedEntryValue kReportTitle("126000", "DCM", "Imaging Measurement Report");
const DSRCodedEntryValue kComment("121106", "DCM", "Comment");
const DSRCodedEntryValue kProbability("MGMT-P", kScheme, "MGMT promoter methylation probability");
const DSRCodedEntryValue kNoResult("NO-RESULT", kScheme, "Reason for no result");
const DSRCodedEntryValue kSegmentationModel("SEG-MODEL", kScheme, "Tumour segmentation model");
const DSRCodedEntryValue kSeriesResult("SERIES-RESULT", kScheme, "MRI series result");
const DSRCodedEntryValue kMRIType("MRI-TYPE", kScheme, "MRI type");
const DSRCodedEntryValue kChunkCount("CHUNKS", kScheme, "Number of slice chunks");
const DSRCodedEntryValue kSegmentation("SEG", kScheme, "Tumour segmentation");
const DSRCodedEntryValue kSeriesUID("112002", "DCM", "Series Instance UID");
const DSRCodedEntryValue kAlgorithmName("111001", "DCM", "Algorithm Name");
const DSRCodedEntryValue kAlgorithmVersion("111003", "DCM", "Algorithm Version");
const DSRCodedEntryValue kNoUnits("1", "UCUM", "no units");
const DSRCodedEntryValue kChunks("{chunks}", "UCUM", "chunks");

/// Builds the tree with a cursor: `child` adds below the current item, `sibling` after it.
class TreeBuilder {
public:
    explicit TreeBuilder(DSRDocumentTree &tree) : tree_(tree) {}
    OFCondition status() const { return status_; }

    TreeBuilder &child(DSRTypes::E_ValueType type, const DSRCodedEntryValue &concept) {
        return add(type, concept, DSRTypes::AM_belowCurrent);
    }
    TreeBuilder &sibling(DSRTypes::E_ValueType type, const DSRCodedEntryValue &concept) {
        return add(type, concept, DSRTypes::AM_afterCurrent);
    }
    TreeBuilder &up() {
        if (status_.good() && tree_.goUp() == 0) status_ = EC_IllegalCall;
        return *this;
    }
    TreeBuilder &text(const char *value) { return set(item().setStringValue(orEmpty(value), OFFalse)); }
    TreeBuilder &number(const std::string &value, const DSRCodedEntryValue &unit) {
        return set(item().setNumericValue(DSRNumericMeasurementValue(value.c_str(), unit, OFFalse), OFFalse));
    }
    TreeBuilder &composite(const char *sopClass, const char *sopInstance) {
        return set(item().setCompositeReference(DSRCompositeReferenceValue(sopClass, sopInstance, OFFalse), OFFalse));
    }

private:
    DSRDocumentTree &tree_;
    OFCondition status_ = EC_Normal;

    DSRContentItem &item() { return tree_.getCurrentContentItem(); }
    TreeBuilder &set(OFCondition cond) {
        if (status_.good()) status_ = cond;
        return *this;
    }
    TreeBuilder &add(DSRTypes::E_ValueType type, const DSRCodedEntryValue &concept, DSRTypes::E_AddMode mode) {
        if (status_.good()) {
            if (tree_.addContentItem(DSRTypes::RT_contains, type, mode) == 0) {
                status_ = EC_IllegalCall;
            } else {
                status_ = item().setConceptName(concept, OFFalse);
            }
        }
        return *this;
    }
};

std::string probabilityText(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.8f", value);  // DS: at most 16 characters
    return text;
}

}  // namespace

extern "C" mgmt_exchange_status mgmt_sr_write(const mgmt_sr_request *r, const char *path, mgmt_exchange_error *error) {
    clear(error);
    if (!r || !path || (r->series_count && !r->series)) {
        return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "report: a request and a path are required");
    }
    if (!nonEmpty(r->study.study_instance_uid) || !nonEmpty(r->series_instance_uid) || !nonEmpty(r->sop_instance_uid)) {
        return fail(error, MGMT_EXCHANGE_INVALID_ARGUMENT, "report: study, series and SOP instance UIDs are required");
    }
    return guarded(error, "writing a report", [&]() -> mgmt_exchange_status {
        DSRDocument document(DSRTypes::DT_ComprehensiveSR);
        OFCondition cond = document.createNewSeriesInStudy(r->study.study_instance_uid);
        if (cond.good()) cond = document.setManufacturer(nonEmptyOr(r->manufacturer, "mgmt-fleet"));
        if (cond.good()) cond = document.setSoftwareVersions(nonEmptyOr(r->software_version, "1"));
        if (cond.good()) cond = document.setSeriesDescription("MGMT methylation report (research use only)");
        if (cond.bad()) return fail(error, MGMT_EXCHANGE_ENCODE, "report: document: %s", cond.text());

        DSRDocumentTree &tree = document.getTree();
        if (tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container) == 0) {
            return fail(error, MGMT_EXCHANGE_ENCODE, "report: root container");
        }
        tree.getCurrentContentItem().setConceptName(kReportTitle);
        TreeBuilder builder(tree);
        builder.child(DSRTypes::VT_Text, kComment)
            .text("RESEARCH USE ONLY, NOT FOR DIAGNOSIS. Automated prediction of MGMT promoter methylation from "
                  "brain MRI; it has not been validated for clinical use.");
        if (r->has_patient_probability) {
            builder.sibling(DSRTypes::VT_Num, kProbability).number(probabilityText(r->patient_probability), kNoUnits);
        } else {
            builder.sibling(DSRTypes::VT_Text, kNoResult).text(nonEmptyOr(r->no_result_reason, "no MRI type produced chunks"));
        }
        builder.sibling(DSRTypes::VT_Container, kSegmentationModel)
            .child(DSRTypes::VT_Text, kAlgorithmName).text(nonEmptyOr(r->segmentation_model_name, "unknown"))
            .sibling(DSRTypes::VT_Text, kAlgorithmVersion).text(nonEmptyOr(r->segmentation_weights_sha256, "unknown"))
            .up();
        for (size_t i = 0; i < r->series_count; ++i) {
            const mgmt_sr_series_result &s = r->series[i];
            builder.sibling(DSRTypes::VT_Container, kSeriesResult)
                .child(DSRTypes::VT_Text, kMRIType).text(nonEmptyOr(s.mri_type, "unknown"))
                .sibling(DSRTypes::VT_UIDRef, kSeriesUID).text(nonEmptyOr(s.series_instance_uid, "0"));
            if (s.chunk_count > 0) {
                builder.sibling(DSRTypes::VT_Num, kProbability).number(probabilityText(s.probability), kNoUnits);
            }
            builder.sibling(DSRTypes::VT_Num, kChunkCount).number(std::to_string(s.chunk_count), kChunks)
                .sibling(DSRTypes::VT_Text, kAlgorithmName).text(nonEmptyOr(s.model_name, "unknown"))
                .sibling(DSRTypes::VT_Text, kAlgorithmVersion).text(nonEmptyOr(s.weights_sha256, "unknown"));
            if (nonEmpty(s.segmentation_sop_instance_uid)) {
                builder.sibling(DSRTypes::VT_Composite, kSegmentation)
                    .composite(UID_SegmentationStorage, s.segmentation_sop_instance_uid);
                cond = document.getCurrentRequestedProcedureEvidence().addItem(
                    r->study.study_instance_uid, nonEmptyOr(s.segmentation_series_instance_uid, "0"),
                    UID_SegmentationStorage, s.segmentation_sop_instance_uid);
                if (cond.bad()) return fail(error, MGMT_EXCHANGE_ENCODE, "report: evidence: %s", cond.text());
            }
            builder.up();
        }
        if (builder.status().bad()) return fail(error, MGMT_EXCHANGE_ENCODE, "report: content: %s", builder.status().text());
        cond = document.completeDocument();
        if (cond.bad()) return fail(error, MGMT_EXCHANGE_ENCODE, "report: complete: %s", cond.text());

        DcmFileFormat file;
        DcmDataset &dataset = *file.getDataset();
        cond = document.write(dataset);
        if (cond.bad()) return fail(error, MGMT_EXCHANGE_ENCODE, "report: encode: %s", cond.text());
        // Deterministic identity (a re-run replaces the earlier report) and the source's patient and study.
        const std::string seriesNumber = std::to_string(r->series_number);
        dataset.putAndInsertString(DCM_SeriesInstanceUID, r->series_instance_uid);
        dataset.putAndInsertString(DCM_SOPInstanceUID, r->sop_instance_uid);
        dataset.putAndInsertString(DCM_SeriesNumber, seriesNumber.c_str());
        mgmt_exchange_status status = writeStudyAttributes(dataset, r->study, error);
        if (status != MGMT_EXCHANGE_OK) return status;
        DcmItem *scheme = nullptr;
        dataset.findOrCreateSequenceItem(DCM_CodingSchemeIdentificationSequence, scheme, 0);
        if (scheme) {
            scheme->putAndInsertString(DCM_CodingSchemeDesignator, kScheme);
            scheme->putAndInsertString(DCM_CodingSchemeName, "mgmt-fleet concepts");
            scheme->putAndInsertString(DCM_CodingSchemeResponsibleOrganization, "mgmt-fleet");
        }
        cond = file.saveFile(path, EXS_LittleEndianExplicit);
        if (cond.bad()) return fail(error, MGMT_EXCHANGE_IO, "report: save: %s", cond.text());
        return MGMT_EXCHANGE_OK;
    });
}
