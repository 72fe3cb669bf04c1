// Writing the fleet's results as DICOM objects in the source study: a Segmentation per series and a
// Comprehensive SR per study, with UIDs derived from (source, weights) so that a re-run replaces them.
import CDicomExchange
import Crypto
import Domain
import Foundation

/// Deterministic UIDs in the 2.25 (UUID-derived) root: the same inputs always give the same UID.
public enum DerivedUID {
    /// "2.25." followed by the first 128 bits of SHA-256 over the parts, as a decimal integer.
    public static func make(_ parts: String...) -> String {
        let digest = SHA256.hash(data: Data(parts.joined(separator: "\u{1F}").utf8))
        let value = digest.prefix(16).reduce(UInt128(0)) { ($0 << 8) | UInt128($1) }
        return "2.25.\(value)"
    }
}

/// The algorithm that produced a derived object: its name and the sha256 of its weights (the version).
public struct DerivingAlgorithm: Sendable, Equatable {
    public let name: String
    public let weightsSha256: String

    public init(name: String, weightsSha256: String) {
        self.name = name
        self.weightsSha256 = weightsSha256
    }
}

/// One slice of the source series, in the series' order.
public struct SourceSlice: Sendable, Equatable, Codable {
    public let sopClassUid: String
    public let sopInstanceUid: String
    public let imagePositionPatient: [Double]

    public init(sopClassUid: String, sopInstanceUid: String, imagePositionPatient: [Double]) {
        self.sopClassUid = sopClassUid
        self.sopInstanceUid = sopInstanceUid
        self.imagePositionPatient = imagePositionPatient
    }
}

/// The source series of a segmentation: identity and geometry.
public struct SegmentationSource: Sendable, Equatable {
    public let study: StudyAttributes
    public let seriesInstanceUid: String
    /// Empty when the source has none; the segmentation then gets one derived from the series.
    public let frameOfReferenceUid: String
    public let imageOrientationPatient: [Double]
    /// Row spacing then column spacing, mm.
    public let pixelSpacing: [Double]
    public let sliceThickness: Double?
    public let rows: Int
    public let columns: Int
    public let slices: [SourceSlice]

    public init(study: StudyAttributes, seriesInstanceUid: String, frameOfReferenceUid: String,
                imageOrientationPatient: [Double], pixelSpacing: [Double], sliceThickness: Double?, rows: Int,
                columns: Int, slices: [SourceSlice]) {
        self.study = study
        self.seriesInstanceUid = seriesInstanceUid
        self.frameOfReferenceUid = frameOfReferenceUid
        self.imageOrientationPatient = imageOrientationPatient
        self.pixelSpacing = pixelSpacing
        self.sliceThickness = sliceThickness
        self.rows = rows
        self.columns = columns
        self.slices = slices
    }
}

/// A derived object written to a file.
public struct DerivedObject: Sendable, Equatable {
    public let kind: DicomObjectKind
    public let seriesInstanceUid: String
    public let sopInstanceUid: String
    public let path: String
    /// Frames of a segmentation (0 for a report).
    public let frames: Int
}

public enum SegmentationWriter {
    public static let seriesNumber = 9001
    static let manufacturer = "mgmt-fleet"
    static let softwareVersion = "1"

    /// The UIDs of the segmentation of `sourceSeries` by `algorithm` (also known before writing, for the report).
    public static func uids(sourceSeries: String, algorithm: DerivingAlgorithm) -> (series: String, sopInstance: String) {
        (DerivedUID.make("SEG series", sourceSeries, algorithm.weightsSha256),
         DerivedUID.make("SEG instance", sourceSeries, algorithm.weightsSha256))
    }

    /// Writes a binary Segmentation of `source` to `path`: segment 1 whole tumour, 2 enhancing tumour; one frame
    /// per (segment, slice with any pixel of it), each referencing its source slice. `masks` holds, per slice in
    /// `source.slices` order, the WT then the ET mask of rows × columns bytes (non-zero = inside).
    public static func write(source: SegmentationSource, masks: [UInt8], algorithm: DerivingAlgorithm,
                             to path: String) throws(DicomExchangeError) -> DerivedObject {
        let pixels = source.rows * source.columns
        guard source.rows > 0, source.rows <= Int(UInt16.max), source.columns > 0, source.columns <= Int(UInt16.max),
              masks.count == source.slices.count * 2 * pixels,
              source.imageOrientationPatient.count == 6, source.pixelSpacing.count == 2,
              source.slices.allSatisfy({ $0.imagePositionPatient.count == 3 })
        else {
            throw .invalidArgument("segmentation: masks or geometry do not match the source series' size")
        }
        let (series, instance) = uids(sourceSeries: source.seriesInstanceUid, algorithm: algorithm)
        let frameOfReference = source.frameOfReferenceUid.isEmpty
            ? DerivedUID.make("frame of reference", source.seriesInstanceUid) : source.frameOfReferenceUid
        let sliceStrings = source.slices.flatMap { [$0.sopClassUid, $0.sopInstanceUid] }
        var error = mgmt_exchange_error()
        var frames = 0
        let status = withStudy(source.study) { study in
            withCStrings(sliceStrings) { uids in
                let slices = source.slices.indices.map { i in
                    let p = source.slices[i].imagePositionPatient
                    return mgmt_seg_source_slice(sop_class_uid: uids[2 * i], sop_instance_uid: uids[2 * i + 1],
                                                 image_position_patient: (p[0], p[1], p[2]))
                }
                return withCStrings([source.seriesInstanceUid, frameOfReference, series, instance,
                                     "Tumour segmentation (\(algorithm.name))", algorithm.name, algorithm.weightsSha256,
                                     manufacturer, softwareVersion]) { s in
                    slices.withUnsafeBufferPointer { slices in
                        masks.withUnsafeBufferPointer { masks in
                            let o = source.imageOrientationPatient
                            var request = mgmt_seg_request()
                            request.study = study
                            request.source_series_instance_uid = s[0]
                            request.frame_of_reference_uid = s[1]
                            request.image_orientation_patient = (o[0], o[1], o[2], o[3], o[4], o[5])
                            request.pixel_spacing = (source.pixelSpacing[0], source.pixelSpacing[1])
                            request.slice_thickness = source.sliceThickness ?? 0
                            request.rows = UInt16(source.rows)
                            request.columns = UInt16(source.columns)
                            request.slices = slices.baseAddress
                            request.slice_count = slices.count
                            request.masks = masks.baseAddress
                            request.series_instance_uid = s[2]
                            request.sop_instance_uid = s[3]
                            request.series_number = Int32(seriesNumber)
                            request.series_description = s[4]
                            request.algorithm_name = s[5]
                            request.algorithm_version = s[6]
                            request.manufacturer = s[7]
                            request.software_version = s[8]
                            var count = 0
                            let status = path.withCString { mgmt_seg_write(&request, $0, &count, &error) }
                            frames = count
                            return status
                        }
                    }
                }
            }
        }
        guard status == MGMT_EXCHANGE_OK else { throw DicomExchangeError(error) }
        return DerivedObject(kind: .segmentation, seriesInstanceUid: series, sopInstanceUid: instance, path: path,
                             frames: frames)
    }
}

/// The structured report of one study: a Comprehensive SR with this content tree (codes in the private scheme
/// 99MGMT unless marked DCM or UCUM):
///
///     CONTAINER (126000, DCM, "Imaging Measurement Report")
///       CONTAINS TEXT (121106, DCM, "Comment"): "RESEARCH USE ONLY, NOT FOR DIAGNOSIS. ..."
///       CONTAINS NUM (MGMT-P, "MGMT promoter methylation probability"), unit (1, UCUM): the patient's
///                or TEXT (NO-RESULT, "Reason for no result") when no MRI type produced chunks
///       CONTAINS CONTAINER (SEG-MODEL, "Tumour segmentation model")
///         CONTAINS TEXT (111001, DCM, "Algorithm Name"), TEXT (111003, DCM, "Algorithm Version"): weights sha256
///       CONTAINS CONTAINER (SERIES-RESULT, "MRI series result"), one per series:
///         CONTAINS TEXT (MRI-TYPE, "MRI type"): FLAIR | T1w | T1wCE | T2w
///         CONTAINS UIDREF (112002, DCM, "Series Instance UID"): the source series
///         CONTAINS NUM (MGMT-P, ...): the series' probability (absent without chunks)
///         CONTAINS NUM (CHUNKS, "Number of slice chunks"), unit ({chunks}, UCUM)
///         CONTAINS TEXT (111001, DCM, "Algorithm Name"), TEXT (111003, DCM, "Algorithm Version")
///         CONTAINS COMPOSITE (SEG, "Tumour segmentation"): the series' Segmentation, when there is one
public enum StructuredReportWriter {
    public static let seriesNumber = 9002

    public struct SeriesResult: Sendable, Equatable {
        public let mriType: String
        public let seriesInstanceUid: String
        /// nil when the series produced no chunks.
        public let probability: Double?
        public let chunkCount: Int
        public let classifier: DerivingAlgorithm
        /// The series' segmentation object, if one was written.
        public let segmentation: DerivedObject?

        public init(mriType: String, seriesInstanceUid: String, probability: Double?, chunkCount: Int,
                    classifier: DerivingAlgorithm, segmentation: DerivedObject?) {
            self.mriType = mriType
            self.seriesInstanceUid = seriesInstanceUid
            self.probability = probability
            self.chunkCount = chunkCount
            self.classifier = classifier
            self.segmentation = segmentation
        }
    }

    public static func uids(study: String, weights: [String]) -> (series: String, sopInstance: String) {
        let key = weights.sorted().joined(separator: ",")
        return (DerivedUID.make("SR series", study, key), DerivedUID.make("SR instance", study, key))
    }

    /// Writes the report of a study to `path`. `patientProbability` nil means no result, for `noResultReason`.
    public static func write(study: StudyAttributes, patientProbability: Double?, noResultReason: String?,
                             series: [SeriesResult], segmentationModel: DerivingAlgorithm,
                             to path: String) throws(DicomExchangeError) -> DerivedObject {
        let (seriesUid, instanceUid) = uids(study: study.studyInstanceUid,
                                            weights: [segmentationModel.weightsSha256] + series.map(\.classifier.weightsSha256))
        let strings = series.flatMap {
            [$0.mriType, $0.seriesInstanceUid, $0.classifier.name, $0.classifier.weightsSha256,
             $0.segmentation?.sopInstanceUid ?? "", $0.segmentation?.seriesInstanceUid ?? ""]
        }
        var error = mgmt_exchange_error()
        let status = withStudy(study) { studyAttributes in
            withCStrings(strings) { s in
                let results = series.indices.map { i in
                    mgmt_sr_series_result(
                        mri_type: s[6 * i], series_instance_uid: s[6 * i + 1], probability: series[i].probability ?? 0,
                        chunk_count: Int32(clamping: series[i].probability == nil ? 0 : series[i].chunkCount),
                        model_name: s[6 * i + 2], weights_sha256: s[6 * i + 3],
                        segmentation_sop_instance_uid: s[6 * i + 4], segmentation_series_instance_uid: s[6 * i + 5])
                }
                return withCStrings([seriesUid, instanceUid, noResultReason ?? "", segmentationModel.name,
                                     segmentationModel.weightsSha256, SegmentationWriter.manufacturer,
                                     SegmentationWriter.softwareVersion]) { t in
                    results.withUnsafeBufferPointer { results in
                        var request = mgmt_sr_request()
                        request.study = studyAttributes
                        request.series_instance_uid = t[0]
                        request.sop_instance_uid = t[1]
                        request.series_number = Int32(seriesNumber)
                        request.patient_probability = patientProbability ?? 0
                        request.has_patient_probability = patientProbability == nil ? 0 : 1
                        request.no_result_reason = t[2]
                        request.series = results.baseAddress
                        request.series_count = results.count
                        request.segmentation_model_name = t[3]
                        request.segmentation_weights_sha256 = t[4]
                        request.manufacturer = t[5]
                        request.software_version = t[6]
                        return path.withCString { mgmt_sr_write(&request, $0, &error) }
                    }
                }
            }
        }
        guard status == MGMT_EXCHANGE_OK else { throw DicomExchangeError(error) }
        return DerivedObject(kind: .report, seriesInstanceUid: seriesUid, sopInstanceUid: instanceUid, path: path, frames: 0)
    }
}

/// Calls `body` with the study attributes as C strings valid for the call.
private func withStudy<R>(_ study: StudyAttributes, _ body: (mgmt_study_attributes) -> R) -> R {
    withCStrings([study.patientName, study.patientId, study.patientBirthDate, study.patientSex, study.studyInstanceUid,
                  study.studyDate, study.studyTime, study.studyId, study.accessionNumber, study.referringPhysicianName]) { s in
        body(mgmt_study_attributes(
            patient_name: s[0], patient_id: s[1], patient_birth_date: s[2], patient_sex: s[3], study_instance_uid: s[4],
            study_date: s[5], study_time: s[6], study_id: s[7], accession_number: s[8], referring_physician_name: s[9]))
    }
}
