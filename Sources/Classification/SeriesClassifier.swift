import Domain
import Foundation
import Imaging
import Inference

/// Classifies one series with one model: slice selection → chunks → frames → embeddings → LSTM + head per
/// chunk → the mean over chunks.
public struct SeriesClassifier: Sendable {
    public let model: SequenceClassifier
    /// SHA-256 (hex) of the weights file, recorded with every result; nil for weights not read from a file.
    public let weightsSha256: String?
    public var augmentation: TestTimeAugmentation
    /// Backbone workers (frames are split over them; BLAS runs single-threaded inside each).
    public var threads: Int
    /// Embed each frame once per series and path (true), or recompute the backbone for every chunk as the
    /// reference did (false: same numbers, up to 7× the work; kept for parity tests and benchmarks).
    public var reuseEmbeddings: Bool

    public init(model: SequenceClassifier, weightsSha256: String?, augmentation: TestTimeAugmentation = .zoom, threads: Int = 1,
                reuseEmbeddings: Bool = true) {
        self.model = model
        self.weightsSha256 = weightsSha256
        self.augmentation = augmentation
        self.threads = max(1, threads)
        self.reuseEmbeddings = reuseEmbeddings
    }

    public func classify(_ input: SeriesInput) throws -> SeriesClassification {
        let kept = try Self.keptSlices(input)
        let keptInstances = kept.map { input.instanceNumbers[$0] }
        guard !kept.isEmpty else {
            return SeriesClassification(
                input: input, kept: [], chunks: [], status: .noInformativeSlice,
                reason: "no slice has a whole-tumour mask large enough (T4E slice selection)",
                augmentation: augmentation, weightsSha256: weightsSha256)
        }
        let probabilities = try chunkProbabilities(input, kept: kept)
        let plan = ChunkPlan(frameCount: kept.count)
        let chunks = zip(plan.chunks, probabilities).enumerated().map { index, pair in
            ChunkResult(index: index, firstInstance: keptInstances[pair.0.lowerBound], probability: pair.1)
        }
        return SeriesClassification(
            input: input, kept: keptInstances, chunks: chunks, status: .classified, reason: nil,
            augmentation: augmentation, weightsSha256: weightsSha256)
    }

    /// Indices (into the series' slices) of the slices T4E's selection keeps, in order.
    public static func keptSlices(_ input: SeriesInput) throws -> [Int] {
        try input.slices.indices.filter {
            try SliceSelection(slice: input.slices[$0], wholeTumour: input.wholeTumour[$0]).isKept
        }
    }

    /// The probability of every chunk over the kept slices. With `reuseEmbeddings`, each kept frame is embedded
    /// once per OpenCV path it takes, the padding frame once, and the LSTM input projections are shared as well.
    public func chunkProbabilities(_ input: SeriesInput, kept: [Int]) throws -> [Double] {
        let plan = ChunkPlan(frameCount: kept.count)
        var totals = [Double](repeating: 0, count: plan.chunks.count)
        for variant in augmentation.variants {
            let probabilities = reuseEmbeddings
                ? try sharedChunkProbabilities(input, kept: kept, plan: plan, variant: variant)
                : try plan.chunks.indices.map { try recomputedChunkProbability(input, kept: kept, plan: plan, chunk: $0, variant: variant) }
            for (i, p) in probabilities.enumerated() { totals[i] += Double(p) }
        }
        return totals.map { $0 / Double(augmentation.variants.count) }
    }

    private func sharedChunkProbabilities(_ input: SeriesInput, kept: [Int], plan: ChunkPlan, variant: FrameVariant) throws -> [Float] {
        // One row per (frame, path) actually used, then the padding frame if any chunk needs it.
        var rowOf: [FramePath: [Int: Int]] = [.uint8: [:], .float: [:]]
        var jobs: [(frame: Int, path: FramePath)] = []
        for (path, frames) in [(FramePath.uint8, plan.framesInFullChunks), (.float, plan.framesInPaddedChunks)] {
            for frame in frames.sorted() {
                rowOf[path]![frame] = jobs.count
                jobs.append((frame, path))
            }
        }
        let needsPadding = plan.chunks.indices.contains { plan.padding(ofChunk: $0) > 0 }
        let paddingRow = jobs.count
        let rows = jobs.count + (needsPadding ? 1 : 0)
        let (classifier, frameJobs) = (self, jobs)
        let embeddings = try model.backbone.embed(count: rows, threads: threads) { row, out in
            if row == paddingRow {
                FrameBuilder.writePadding(to: out)
            } else {
                let job = frameJobs[row]
                try classifier.writeFrame(input, slice: kept[job.frame], variant: variant, path: job.path, to: out)
            }
        }
        let projections = try model.lstm.project(inputs: embeddings, rows: rows)
        return try plan.chunks.indices.map { i in
            let path: FramePath = plan.padding(ofChunk: i) > 0 ? .float : .uint8
            let sequence = plan.chunks[i].map { rowOf[path]![$0]! } + Array(repeating: paddingRow, count: plan.padding(ofChunk: i))
            return try model.probability(projections, sequence: sequence)
        }
    }

    private func recomputedChunkProbability(_ input: SeriesInput, kept: [Int], plan: ChunkPlan, chunk: Int, variant: FrameVariant) throws -> Float {
        let range = plan.chunks[chunk]
        let path: FramePath = plan.padding(ofChunk: chunk) > 0 ? .float : .uint8
        let length = SequenceClassifier.sequenceLength
        let classifier = self
        let embeddings = try model.backbone.embed(count: length, threads: threads) { row, out in
            if row < range.count {
                try classifier.writeFrame(input, slice: kept[range.lowerBound + row], variant: variant, path: path, to: out)
            } else {
                FrameBuilder.writePadding(to: out)
            }
        }
        let projections = try model.lstm.project(inputs: embeddings, rows: length)
        return try model.probability(projections, sequence: Array(0..<length))
    }

    private func writeFrame(_ input: SeriesInput, slice: Int, variant: FrameVariant, path: FramePath, to out: UnsafeMutablePointer<Float>) throws {
        try FrameBuilder.write(slice: input.slices[slice], wholeTumour: input.wholeTumour[slice], enhancing: input.enhancing[slice],
                               variant: variant, path: path, to: out)
    }
}
