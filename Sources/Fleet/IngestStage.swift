import Foundation
import Ingestion
import Logging

/// The ingest worker's stage: a study folder in; per series, its directory files in the artifact store and one
/// `segment` job; one `ingested` status event for the study (with per-series slice counts and any warnings).
public struct IngestStage: Stage {
    public typealias Job = StudyJob
    public let name = "ingest"
    private let ingestor: StudyIngestor

    public init(ingestor: StudyIngestor) {
        self.ingestor = ingestor
    }

    public func consumedQueues(_ names: QueueNames) -> [String] { [names.studies] }

    /// The store key prefix of a series' ingest output (deterministic, so a redelivery rewrites the same files).
    public static func artifactPrefix(seriesInstanceUid: String) -> String {
        "ingest/" + JobID.derive(stage: "ingest", subject: seriesInstanceUid)
    }

    public func run(_ job: StudyJob, context: StageContext) throws -> [Publication] {
        let study: IngestedStudy
        do {
            study = try ingestor.ingest(study: URL(fileURLWithPath: job.studyPath))
        } catch {
            throw StageFailure.permanent("\(error)")
        }
        guard !study.series.isEmpty else {
            let reasons = study.metadata.errors.map(\.description).joined(separator: "; ")
            throw StageFailure.permanent("no usable series" + (reasons.isEmpty ? "" : ": \(reasons)"))
        }
        var segmentJobs: [Publication] = []
        var summaries: [SeriesSummary] = []
        for series in study.series {
            let metadata = series.metadata
            let directory = context.workspace.appendingPathComponent("series-\(summaries.count)")
            do {
                try series.write(to: directory)
            } catch {
                throw StageFailure.transient("cannot write the series directory: \(error)")
            }
            let prefix = Self.artifactPrefix(seriesInstanceUid: metadata.seriesInstanceUID)
            var inputs: [String: ArtifactRef] = [:]
            for file in [IngestedSeries.metadataFileName, IngestedSeries.floatImageFileName,
                         IngestedSeries.uint8ImageFileName] {
                inputs[file] = try context.store.put(fileAt: directory.appendingPathComponent(file), key: "\(prefix)/\(file)")
            }
            let identity = SeriesIdentity(
                patientId: metadata.patientID, studyInstanceUid: metadata.studyInstanceUID,
                seriesInstanceUid: metadata.seriesInstanceUID, mriType: metadata.mriType.rawValue)
            segmentJobs.append(Publication(.segment, SegmentJob(series: identity, inputs: inputs)))
            summaries.append(SeriesSummary(seriesInstanceUid: metadata.seriesInstanceUID,
                                           mriType: metadata.mriType.rawValue, slicesTotal: metadata.slicesTotal,
                                           slicesKept: metadata.slices))
        }
        let issues = (study.metadata.errors + study.metadata.warnings).map(\.description)
        let event = StatusEvent(
            jobId: job.jobId, stage: name, status: .ingested, source: job.studyPath,
            patientId: study.metadata.patientID, studyInstanceUid: study.metadata.studyInstanceUID,
            studySeries: summaries, warnings: issues.isEmpty ? nil : issues)
        context.logger.info("study ingested", metadata: [
            "series": "\(summaries.count)", "issues": "\(issues.count)"])
        // The report event first: the reporter then knows the study before any of its series' events.
        return [Publication(.report, event)] + segmentJobs
    }

    public func failurePublications(for job: StudyJob, reason: String) -> [Publication] {
        [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, status: .failed, source: job.studyPath,
                                          error: reason))]
    }
}
