import Fleet
import Classification
import Foundation
import Ingestion
import Logging

/// The cls-worker's stage: a segmented series in; the classifier of its MRI type (T4E's slice selection, chunks,
/// ECA-NFNet-L0 + BiLSTM) run by the same `SeriesClassifier` as `cls-worker run`; `classification.json` to the
/// store; a `classified` event with every chunk's probability and the weights' sha256.
public final class ClassifyStage: Stage, @unchecked Sendable {
    public typealias Job = ClassifyJob
    public let name = "classify"
    private let modelsDirectory: URL
    private let augmentation: TestTimeAugmentation
    private let threads: Int
    /// Loaded classifiers by MRI type; touched only by the worker thread.
    private var loaded: [MRIType: ClassifierWeights] = [:]

    public init(modelsDirectory: URL, augmentation: TestTimeAugmentation = .zoom, threads: Int) {
        self.modelsDirectory = modelsDirectory
        self.augmentation = augmentation
        self.threads = threads
    }

    public func consumedQueues(_ names: QueueNames) -> [String] { [names.classify] }

    public func run(_ job: ClassifyJob, context: StageContext) throws -> [Publication] {
        let directory = context.workspace.appendingPathComponent("series")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for file in [IngestedSeries.metadataFileName, SeriesInput.slicesFile, SeriesInput.masksFile] where job.inputs[file] == nil {
            throw StageFailure.permanent("classify job has no input '\(file)'")
        }
        for (file, ref) in job.inputs {
            try context.store.materialize(ref, at: directory.appendingPathComponent(file))
        }
        let result: Classification.SeriesClassification
        do {
            result = try classify(directory, mriType: job.series.mriType)
        } catch let failure as StageFailure {
            throw failure
        } catch {
            throw StageFailure.permanent("classification failed: \(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let weights = result.weightsSHA256 ?? ""
        let key = "classify/" + JobID.derive(stage: "classify", subject: job.series.seriesInstanceUid,
                                             weights: [job.segmentationWeightsSha256, weights])
        try context.store.put(try encoder.encode(result), key: "\(key)/\(StudyClassifier.resultFile)")
        let summary = SeriesResult(
            weightsSha256: weights, segmentationWeightsSha256: job.segmentationWeightsSha256,
            slicesSelected: result.kept.count,
            chunks: result.chunks.map { ChunkResult(index: $0.index, firstInstance: $0.first, probability: $0.probability) },
            noChunksReason: result.chunks.isEmpty ? (result.reason ?? result.status.rawValue) : nil)
        context.logger.info("series classified", metadata: [
            "mri_type": "\(job.series.mriType)", "chunks": "\(summary.chunks.count)",
            "selected": "\(summary.slicesSelected)"])
        return [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, status: .classified,
                                                 series: job.series, classification: summary))]
    }

    public func failurePublications(for job: ClassifyJob, reason: String) -> [Publication] {
        [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, status: .failed, series: job.series,
                                          error: reason))]
    }

    /// A type without a classifier file is skipped with the reason, as `cls-worker run` does: the series gets a
    /// prediction row without chunks and the study still completes.
    private func classify(_ directory: URL, mriType name: String) throws -> Classification.SeriesClassification {
        guard let mriType = MRIType(rawValue: name) else { throw StageFailure.permanent("unknown MRI type '\(name)'") }
        let weightsURL = modelsDirectory.appendingPathComponent(ClassifierWeights.fileName(mriType: mriType))
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            return try Classification.SeriesClassification.skipped(directory, missingWeights: weightsURL)
        }
        let weights = try loaded[mriType] ?? ClassifierWeights(contentsOf: weightsURL)
        loaded[mriType] = weights
        return try SeriesClassifier(model: weights.model, weightsSHA256: weights.sha256, augmentation: augmentation,
                                    threads: threads).classify(SeriesInput(directory: directory))
    }
}
