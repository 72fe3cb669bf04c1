import Classification
import Domain
import Fleet
import Foundation
import Logging
import Pictures
import SeriesFiles

/// The cls-worker's stage: a segmented series in; the classifier of its MRI type (T4E's slice selection, chunks,
/// ECA-NFNet-L0 + BiLSTM) run by the same `SeriesClassifier` as `cls-worker run`; `classification.json` to the
/// store with the series' preview PNG (slices, mask outlines, kept slices, chunk probabilities); a `classified`
/// event with every chunk's probability, the weights' sha256 and the preview's key.
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
        let directory = try context.materializeSeriesInputs(
            job.inputs, required: SeriesDirectory.File.classifierInputs.map(\.name), jobKind: ClassifyJob.messageKind)
        let input: SeriesInput, result: Classification.SeriesClassification
        do {
            input = try SeriesInput(directory: directory)
            result = try classify(input, in: directory, mriType: job.series.mriType)
        } catch let failure as StageFailure {
            throw failure
        } catch {
            throw StageFailure.permanent("classification failed: \(error)")
        }
        let weights = result.weightsSha256 ?? ""
        let key = "classify/" + JobID.derive(stage: "classify", subject: job.series.seriesInstanceUid,
                                             weights: [job.segmentationWeightsSha256, weights])
        try context.store.put(try DocumentJSON.encoder.encode(result), key: "\(key)/\(SeriesDirectory.File.classification.name)")
        let preview = try context.store.put(Data(try Self.preview(input, result)), key: "\(key)/preview.png")
        var summary = result.result(segmentationWeightsSha256: job.segmentationWeightsSha256, preview: preview)
        summary.sources = job.inputs.filter { SeriesDirectory.File.dicomOutputInputs.map(\.name).contains($0.key) }
        context.logger.info("series classified", metadata: [
            "mri_type": "\(job.series.mriType)", "chunks": "\(summary.chunks.count)",
            "selected": "\(summary.slicesSelected)"])
        return [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, .classified(job.series, summary)))]
    }

    public func failurePublications(for job: ClassifyJob, reason: String) -> [Publication] {
        [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, .failed(.series(job.series), error: reason)))]
    }

    /// A type without a classifier file is skipped with the reason, as `cls-worker run` does: the series gets a
    /// prediction row without chunks and the study still completes.
    private func classify(_ input: SeriesInput, in directory: URL, mriType name: String) throws
        -> Classification.SeriesClassification
    {
        guard let mriType = MRIType(rawValue: name) else { throw StageFailure.permanent("unknown MRI type '\(name)'") }
        let weightsURL = modelsDirectory.appendingPathComponent(ClassifierWeights.fileName(mriType: mriType))
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            return try Classification.SeriesClassification.skipped(directory, missingWeights: weightsURL)
        }
        let weights = try loaded[mriType] ?? ClassifierWeights(contentsOf: weightsURL)
        loaded[mriType] = weights
        return try SeriesClassifier(model: weights.model, weightsSha256: weights.sha256, augmentation: augmentation,
                                    threads: threads).classify(input)
    }

    /// The series' preview PNG: every slice with its masks' outlines, the slices the selection kept framed, the
    /// chunk probabilities under them (no slice is framed when the type was skipped).
    static func preview(_ input: SeriesInput, _ result: Classification.SeriesClassification) throws -> [UInt8] {
        let kept = result.kept.isEmpty ? [] : Set(try SeriesClassifier.keptSlices(input))
        let slices = input.slices.indices.map {
            SeriesPreview.Slice(image: input.slices[$0], wholeTumour: input.wholeTumour[$0], enhancing: input.enhancing[$0],
                                kept: kept.contains($0))
        }
        return try PNG.encode(try SeriesPreview(slices: slices, chunkProbabilities: result.chunks.map(\.probability)).render())
    }
}
