import Domain
import Fleet
import Foundation
import Ingestion
import Logging
import SeriesFiles

/// The ingest worker's stage: a study folder in; per series, its directory files in the artifact store and one
/// `segment` job, plus a `classify3d` job with `volume.npy` where the series kept its raw volume (its type has 3D
/// weights); one `ingested` status event for the study (per-series slice counts, the models that will report,
/// any warnings).
public struct IngestStage: Stage {
    public typealias Job = StudyJob
    public let name = "ingest"
    private let ingestor: StudyIngestor
    /// MGMT_EXPORTS: study folders are read only inside these.
    private let exportRoots: [String]

    public init(ingestor: StudyIngestor, exportRoots: [String]) {
        self.ingestor = ingestor
        self.exportRoots = exportRoots
    }

    public func consumedQueues(_ names: QueueNames) -> [String] { [names.studies] }

    /// The store key prefix of a series' ingest output (deterministic, so a redelivery rewrites the same files).
    public static func artifactPrefix(seriesInstanceUid: String) -> String {
        "ingest/" + JobID.derive(stage: "ingest", subject: seriesInstanceUid)
    }

    public func run(_ job: StudyJob, context: StageContext) throws -> [Publication] {
        var seriesJobs: [Publication] = []
        var summaries: [SeriesSummary] = []
        let study: StudyMetadata
        let studyFolder = try confinedStudyFolder(job.studyPath)
        do {
            // One series in memory at a time: each is written, stored and dropped before the next is built.
            study = try ingestor.ingest(study: studyFolder) { directoryName, series in
                let (jobs, summary) = try store(series, directoryName: directoryName, context: context)
                seriesJobs += jobs
                summaries.append(summary)
            }
        } catch let error as ArtifactStoreError {
            throw error
        } catch let failure as StageFailure {
            throw failure
        } catch {
            throw StageFailure.permanent("\(error)")
        }
        guard !summaries.isEmpty else {
            let reasons = study.errors.map(\.description).joined(separator: "; ")
            throw StageFailure.permanent("no usable series" + (reasons.isEmpty ? "" : ": \(reasons)"))
        }
        let issues = (study.errors + study.warnings).map(\.description)
        let event = StatusEvent(jobId: job.jobId, stage: name, .ingested(.init(
            source: job.studyPath, patientId: study.patientId, studyInstanceUid: study.studyInstanceUid,
            series: summaries, warnings: issues)))
        context.logger.info("study ingested", metadata: ["series": "\(summaries.count)", "issues": "\(issues.count)"])
        // The report event first: the reporter then knows the study before any of its series' events.
        return [Publication(.report, event)] + seriesJobs
    }

    /// The study folder's real path if it lies inside an export root. The reason never shows what is at the path.
    private func confinedStudyFolder(_ studyPath: String) throws -> URL {
        guard let real = ConfinedPath.resolve(studyPath) else {
            throw StageFailure.permanent("the study path does not exist or cannot be resolved")
        }
        let roots = exportRoots.compactMap(ConfinedPath.resolve)
        guard roots.contains(where: { ConfinedPath.isInside(real, root: $0) }) else {
            throw StageFailure.permanent("the study path is outside the export roots (MGMT_EXPORTS); not read")
        }
        return URL(fileURLWithPath: real)
    }

    /// Writes one series directory, moves its files into the store and describes the series' jobs.
    private func store(_ series: IngestedSeries, directoryName: String, context: StageContext) throws
        -> ([Publication], SeriesSummary)
    {
        let metadata = series.metadata
        let directory = context.workspace.appendingPathComponent(directoryName)
        do {
            try SeriesDirectory(directory).write(series)
        } catch let error as EncodingError {
            // Values JSON cannot hold: writing again cannot help.
            throw StageFailure.permanent("series \(metadata.seriesInstanceUid) cannot be encoded: \(error)")
        } catch {
            throw StageFailure.transient("cannot write the series directory: \(error)")
        }
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = Self.artifactPrefix(seriesInstanceUid: metadata.seriesInstanceUid)
        var inputs: [String: ArtifactRef] = [:]
        for file in SeriesDirectory.File.ingested {
            inputs[file.name] = try context.store.put(fileAt: SeriesDirectory(directory).url(of: file),
                                                      key: "\(prefix)/\(file.name)")
        }
        let identity = SeriesIdentity(
            patientId: metadata.patientId, studyInstanceUid: metadata.studyInstanceUid,
            seriesInstanceUid: metadata.seriesInstanceUid, mriType: metadata.mriType.rawValue)
        var jobs = [Publication(.segment, SegmentJob(series: identity, inputs: inputs))]
        var models = [ClassifierModel.nfnetLSTM]
        if metadata.volume != nil {
            var volumeInputs = inputs.filter { $0.key == SeriesDirectory.File.metadata.name }
            volumeInputs[SeriesDirectory.File.volume.name] = try context.store.put(
                fileAt: SeriesDirectory(directory).url(of: .volume), key: "\(prefix)/\(SeriesDirectory.File.volume.name)")
            jobs.append(Publication(.classify3d, VolumeClassifyJob(series: identity, inputs: volumeInputs)))
            models.append(.resnet3d)
        }
        let summary = SeriesSummary(seriesInstanceUid: metadata.seriesInstanceUid, mriType: metadata.mriType.rawValue,
                                    slicesTotal: metadata.slicesTotal, slicesKept: metadata.slices, models: models)
        return (jobs, summary)
    }

    public func failurePublications(for job: StudyJob, reason: String) -> [Publication] {
        [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, .failed(.studyFolder(job.studyPath), error: reason)))]
    }
}
