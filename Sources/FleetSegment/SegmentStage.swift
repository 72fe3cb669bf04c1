import Fleet
import Foundation
import Ingestion
import Logging
import Segmentation

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

    public var weightsSHA256: String { segmentation.weightsSHA256 }

    public func consumedQueues(_ names: QueueNames) -> [String] { [names.segment] }

    /// Store key prefix of a series' masks for given weights.
    public static func artifactPrefix(seriesInstanceUid: String, weightsSHA256: String) -> String {
        "segment/" + JobID.derive(stage: "segment", subject: seriesInstanceUid, weights: [weightsSHA256])
    }

    public func run(_ job: SegmentJob, context: StageContext) throws -> [Publication] {
        let directory = context.workspace.appendingPathComponent("series")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard job.inputs[IngestedSeries.metadataFileName] != nil else {
            throw StageFailure.permanent("segment job has no input '\(IngestedSeries.metadataFileName)'")
        }
        for (file, ref) in job.inputs {
            try context.store.materialize(ref, at: directory.appendingPathComponent(file))
        }
        do {
            try segmentation.run(seriesDirectory: directory)
        } catch {
            throw StageFailure.permanent("segmentation failed: \(error)")
        }
        let prefix = Self.artifactPrefix(seriesInstanceUid: job.series.seriesInstanceUid, weightsSHA256: weightsSHA256)
        var inputs = job.inputs
        for file in [SegmentationStage.masksFileName, SegmentationStage.recordFileName] {
            inputs[file] = try context.store.put(fileAt: directory.appendingPathComponent(file), key: "\(prefix)/\(file)")
        }
        return [
            Publication(.report, StatusEvent(jobId: job.jobId, stage: name, status: .segmented, series: job.series,
                                             weightsSha256: weightsSHA256)),
            Publication(.classify, ClassifyJob(series: job.series, inputs: inputs,
                                               segmentationWeightsSha256: weightsSHA256)),
        ]
    }

    public func failurePublications(for job: SegmentJob, reason: String) -> [Publication] {
        [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, status: .failed, series: job.series,
                                          error: reason))]
    }
}
