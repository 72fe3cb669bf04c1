import Domain
import Fleet
import Foundation
import Logging
import Segmentation
import SeriesFiles

/// The seg-worker's stage: an ingested series in (from the store), `masks.npy` + `segmentation.json` out (to the
/// store), one `classify` job and a `segmented` event. The model is loaded once, at start.
public final class SegmentStage: Stage, @unchecked Sendable {
    public typealias Job = SegmentJob
    public let name = "segment"
    /// Used only by the worker thread, one job at a time.
    private let segmentation: SegmentationStage

    public init(modelsDirectory: URL, threads: Int, logger: Logger) throws {
        segmentation = try SegmentationStage(modelDirectory: modelsDirectory, threads: threads, logger: logger)
    }

    public var weightsSha256: String { segmentation.weightsSha256 }

    public func consumedQueues(_ names: QueueNames) -> [String] { [names.segment] }

    /// Store key prefix of a series' masks for given weights.
    public static func artifactPrefix(seriesInstanceUid: String, weightsSha256: String) -> String {
        "segment/" + JobID.derive(stage: "segment", subject: seriesInstanceUid, weights: [weightsSha256])
    }

    public func run(_ job: SegmentJob, context: StageContext) throws -> [Publication] {
        let directory = try context.materializeSeriesInputs(
            job.inputs, required: [SeriesDirectory.File.metadata.name], jobKind: SegmentJob.messageKind)
        do {
            try segmentation.run(seriesDirectory: directory)
        } catch {
            throw StageFailure.permanent("segmentation failed: \(error)")
        }
        let prefix = Self.artifactPrefix(seriesInstanceUid: job.series.seriesInstanceUid, weightsSha256: weightsSha256)
        var inputs = job.inputs
        for file in SeriesDirectory.File.segmented {
            inputs[file.name] = try context.store.put(fileAt: SeriesDirectory(directory).url(of: file),
                                                      key: "\(prefix)/\(file.name)")
        }
        return [
            Publication(.report, StatusEvent(jobId: job.jobId, stage: name,
                                             .segmented(job.series, weightsSha256: weightsSha256))),
            Publication(.classify, ClassifyJob(series: job.series, inputs: inputs,
                                               segmentationWeightsSha256: weightsSha256)),
        ]
    }

    public func failurePublications(for job: SegmentJob, reason: String) -> [Publication] {
        [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, .failed(.series(job.series), error: reason)))]
    }
}
