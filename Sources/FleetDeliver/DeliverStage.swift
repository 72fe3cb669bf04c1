import DICOMExchange
import Domain
import Fleet
import Foundation
import Logging
import SeriesFiles

/// Where the DICOM edge sends a study's objects, and how hard it tries.
public struct DicomDestination: Sendable {
    public var peer: DicomPeer
    public var scu: StorageSCU
    public var retry: StorageSCU.RetryPolicy

    public init(peer: DicomPeer, scu: StorageSCU, retry: StorageSCU.RetryPolicy) {
        self.peer = peer
        self.scu = scu
        self.retry = retry
    }

    /// MGMT_DICOM_DESTINATION (`AE@host:port`; nil when unset), the calling AE title MGMT_DICOM_AE and the
    /// retry settings MGMT_DICOM_SEND_ATTEMPTS / _BACKOFF / _BACKOFF_MAX.
    public static func configured(_ configuration: FleetConfiguration) throws(ConfigurationError) -> DicomDestination? {
        guard let text = configuration.dicomDestination else { return nil }
        guard let peer = DicomPeer(text) else {
            throw .invalid("MGMT_DICOM_DESTINATION", value: text, expected: "AE@host:port (AE title of 1-16 characters)")
        }
        return DicomDestination(
            peer: peer, scu: StorageSCU(callingAETitle: configuration.dicomAETitle),
            retry: StorageSCU.RetryPolicy(attempts: configuration.dicomSendAttempts,
                                          initialDelay: configuration.dicomSendBackoffSeconds,
                                          maximumDelay: configuration.dicomSendBackoffMaximumSeconds))
    }
}

/// The DICOM edge's deliver stage (`ingest deliver`): a complete study in (`deliver` job from the reporter); one
/// SEG per series with tumour in its masks and one SR for the study, written from the series directories in the
/// artifact store (geometry, source UIDs, study attributes; masks), stored under `dicom/<study>/<sop>.dcm`, sent to
/// the destination when one is configured; a `delivered` or `delivery_failed` status event. The study's prediction
/// is never touched: a destination that stays down leaves the objects stored for `reporter resend`.
public struct DeliverStage: Stage {
    public typealias Job = DeliverJob
    public let name = "deliver"
    private let destination: DicomDestination?

    /// Names the SEG and SR give the models (the weights' sha256 is the version).
    public static let segmentationModelName = "UNet++ DenseNet121 (T4E)"
    public static func classifierName(mriType: String) -> String { "ECA-NFNet-L0 + BiLSTM \(mriType) (T4E)" }

    public init(destination: DicomDestination?) {
        self.destination = destination
    }

    public func consumedQueues(_ names: QueueNames) -> [String] { [names.deliver] }

    /// The store key of a written object.
    public static func artifactKey(studyInstanceUid: String, sopInstanceUid: String) -> String {
        "dicom/\(studyInstanceUid)/\(sopInstanceUid).dcm"
    }

    public func run(_ job: DeliverJob, context: StageContext) throws -> [Publication] {
        var warnings: [String] = []
        var study: StudyAttributes?
        var results: [StructuredReportWriter.SeriesResult] = []
        var written: [(object: DerivedObject, source: String?)] = []
        for (index, series) in job.series.enumerated() {
            let directory = context.workspace.appendingPathComponent("series-\(index)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var segmentation: DerivedObject?
            do {
                let source = try SeriesSource(series, into: directory, store: context.store)
                study = study ?? source.metadata.study
                segmentation = try source.writeSegmentation(
                    algorithm: DerivingAlgorithm(name: Self.segmentationModelName,
                                                 weightsSha256: series.segmentationWeightsSha256),
                    to: directory.appendingPathComponent("seg.dcm").path)
            } catch let error as ArtifactStoreError where error.isTransient {
                throw error
            } catch {
                // This series' data cannot make a SEG (missing, corrupt or too old): the rest is still delivered.
                // Bounded: a message's warning may hold 4096 bytes (a character is at most 4).
                warnings.append(String("series \(series.seriesInstanceUid) (\(series.mriType)): no SEG: \(error)".prefix(1000)))
            }
            if let segmentation { written.append((segmentation, series.seriesInstanceUid)) }
            results.append(StructuredReportWriter.SeriesResult(
                mriType: series.mriType, seriesInstanceUid: series.seriesInstanceUid, probability: series.probability,
                chunkCount: series.chunkCount,
                classifier: DerivingAlgorithm(name: Self.classifierName(mriType: series.mriType),
                                              weightsSha256: series.classifierWeightsSha256),
                segmentation: segmentation))
        }
        if study == nil {
            warnings.append("no series directory holds the study's patient and study attributes (ingested before "
                            + "series.json schema 2): the SR carries only the patient id and Study Instance UID")
        }
        let report = try StructuredReportWriter.write(
            study: study ?? StudyAttributes(patientId: job.patientId, studyInstanceUid: job.studyInstanceUid),
            patientProbability: job.patientProbability, noResultReason: job.noResultReason, series: results,
            segmentationModel: DerivingAlgorithm(name: Self.segmentationModelName,
                                                 weightsSha256: job.series.first?.segmentationWeightsSha256 ?? ""),
            to: context.workspace.appendingPathComponent("sr.dcm").path)
        written.append((report, nil))

        var objects: [DicomDelivery.Object] = []
        for (object, source) in written {
            let artifact = try context.store.put(
                fileAt: URL(fileURLWithPath: object.path),
                key: Self.artifactKey(studyInstanceUid: job.studyInstanceUid, sopInstanceUid: object.sopInstanceUid))
            objects.append(DicomDelivery.Object(kind: object.kind, seriesInstanceUid: object.seriesInstanceUid,
                                                sopInstanceUid: object.sopInstanceUid, sourceSeriesInstanceUid: source,
                                                artifact: artifact))
        }
        var delivery = DicomDelivery(patientId: job.patientId, studyInstanceUid: job.studyInstanceUid, objects: objects,
                                     destination: destination?.peer.description, attempts: 0, warnings: warnings)
        var outcome = StatusEvent.Outcome.delivered(delivery)
        if let destination {
            do throws(StorageSCU.DeliveryFailure) {
                delivery.attempts = try destination.scu.send(written.map(\.object.path), to: destination.peer,
                                                             retrying: destination.retry)
                outcome = .delivered(delivery)
            } catch {
                delivery.attempts = error.attempts
                outcome = .deliveryFailed(delivery, error: "C-STORE to \(destination.peer): \(error)")
            }
        }
        context.logger.info("study delivered", metadata: [
            "status": "\(outcome.status)", "objects": "\(objects.count)", "warnings": "\(warnings.count)",
            "destination": "\(destination?.peer.description ?? "none")", "attempts": "\(delivery.attempts)"])
        return [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, outcome))]
    }

    public func failurePublications(for job: DeliverJob, reason: String) -> [Publication] {
        let delivery = DicomDelivery(patientId: job.patientId, studyInstanceUid: job.studyInstanceUid, objects: [],
                                     destination: destination?.peer.description, attempts: 0, warnings: [])
        return [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, .deliveryFailed(delivery, error: reason)))]
    }
}

/// Why a series' data cannot make a SEG.
struct Unusable: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// A series' directory files (series.json, masks.npy) from the store, as a segmentation's source.
struct SeriesSource {
    let metadata: SeriesMetadata
    let directory: SeriesDirectory

    /// Materializes the files from the store and reads series.json.
    init(_ series: DeliverableSeries, into url: URL, store: ArtifactStore) throws {
        directory = SeriesDirectory(url)
        for file in SeriesDirectory.File.dicomOutputInputs {
            guard let ref = series.inputs[file.name] else {
                throw Unusable(reason: "the result names no \(file.name) (classified before DICOM output existed)")
            }
            try store.materialize(ref, at: directory.url(of: file))
        }
        metadata = try directory.readMetadata()
    }

    /// Writes the SEG; nil when the masks hold no tumour pixel (there is nothing to show).
    func writeSegmentation(algorithm: DerivingAlgorithm, to path: String) throws -> DerivedObject? {
        let geometry = metadata.geometry
        guard let slices = metadata.sliceSources else {
            throw Unusable(reason: "series.json schema \(metadata.schema) has no source instances (ingest the study again)")
        }
        guard slices.allSatisfy({ $0.frameNumber == nil }) else {
            throw Unusable(reason: "multi-frame source instances (the SEG writer references whole instances only)")
        }
        guard !metadata.crop.applied.contains("rows"), !metadata.crop.applied.contains("columns") else {
            throw Unusable(reason: "the series was cropped in plane: its masks do not cover the source images")
        }
        let positions = geometry.imagePositionPatient.compactMap { $0 }
        guard let orientation = geometry.imageOrientationPatient, let spacing = geometry.pixelSpacing,
              positions.count == slices.count
        else { throw Unusable(reason: "the source geometry is incomplete (orientation, spacing or a slice position)") }
        let masks = try directory.readMasks(metadata: metadata).uint8Values ?? []
        guard masks.contains(where: { $0 != 0 }) else { return nil }
        let source = SegmentationSource(
            study: metadata.study ?? StudyAttributes(patientId: metadata.patientId, studyInstanceUid: metadata.studyInstanceUid),
            seriesInstanceUid: metadata.seriesInstanceUid, frameOfReferenceUid: geometry.frameOfReferenceUid ?? "",
            imageOrientationPatient: orientation, pixelSpacing: spacing, sliceThickness: geometry.sliceThickness,
            rows: metadata.rows, columns: metadata.columns,
            slices: zip(slices, positions).map {
                SourceSlice(sopClassUid: $0.sopClassUid, sopInstanceUid: $0.sopInstanceUid, imagePositionPatient: $1)
            })
        return try SegmentationWriter.write(source: source, masks: masks, algorithm: algorithm, to: path)
    }
}
