import Domain
import Foundation

public enum SeriesOutcome: String, Codable, Sendable {
    case classified
    /// No slice passed the selection: a recorded result without a probability, not an error.
    case noInformativeSlice = "no_informative_slice"
    /// The model directory has no classifier for this MRI type.
    case skipped
}

/// One series' result, as written to `classification.json` and embedded in the patient document.
public struct SeriesClassification: Codable, Equatable, Sendable {
    public let mriType: String
    public let slicesTotal: Int
    public let slicesNonempty: Int
    /// Instance numbers of the kept slices, in order (nil for a slice without one).
    public let kept: [Int?]
    public let chunks: [ChunkResult]
    /// `Aggregation.seriesProbability` of the chunks; nil when there are none.
    public let probability: Double?
    public let status: SeriesOutcome
    public let reason: String?
    public let tta: TestTimeAugmentation?
    public let weightsSha256: String?

    public init(mriType: String, slicesTotal: Int, slicesNonempty: Int, kept: [Int?], chunks: [ChunkResult],
                status: SeriesOutcome, reason: String?, tta: TestTimeAugmentation?, weightsSha256: String?) {
        self.mriType = mriType
        self.slicesTotal = slicesTotal
        self.slicesNonempty = slicesNonempty
        self.kept = kept
        self.chunks = chunks
        self.probability = Aggregation.seriesProbability(chunks)
        self.status = status
        self.reason = reason
        self.tta = tta
        self.weightsSha256 = weightsSha256
    }

    /// The record of a series whose MRI type has no classifier in the model directory: skipped, with the reason,
    /// the same offline (`cls-worker run`) and in the fleet.
    public static func skipped(_ directory: URL, missingWeights weightsURL: URL) throws -> SeriesClassification {
        let metadata = try SeriesInput.metadata(in: directory)
        return SeriesClassification(
            mriType: metadata.mriType.rawValue, slicesTotal: metadata.slicesTotal, slicesNonempty: metadata.slicesNonempty,
            kept: [], chunks: [], status: .skipped, reason: "no \(weightsURL.lastPathComponent) in the model directory",
            tta: nil, weightsSha256: nil)
    }

    init(input: SeriesInput, kept: [Int?], chunks: [ChunkResult], status: SeriesOutcome, reason: String?,
         augmentation: TestTimeAugmentation, weightsSha256: String?) {
        self.init(mriType: input.mriType.rawValue, slicesTotal: input.slicesTotal, slicesNonempty: input.slicesNonempty,
                  kept: kept, chunks: chunks, status: status, reason: reason, tta: augmentation, weightsSha256: weightsSha256)
    }

    /// The fleet's report of this series: chunks, weights and, without chunks, why.
    public func result(segmentationWeightsSha256: String, preview: ArtifactRef? = nil) -> SeriesResult {
        SeriesResult(weightsSha256: weightsSha256 ?? "", segmentationWeightsSha256: segmentationWeightsSha256,
                     slicesSelected: kept.count, chunks: chunks,
                     noChunksReason: chunks.isEmpty ? (reason ?? status.rawValue) : nil, preview: preview)
    }

    enum CodingKeys: String, CodingKey {
        case mriType, slicesTotal, slicesNonempty, kept, chunks, probability, status, reason, tta, weightsSha256
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(mriType, forKey: .mriType)
        try c.encode(slicesTotal, forKey: .slicesTotal)
        try c.encode(slicesNonempty, forKey: .slicesNonempty)
        try c.encode(kept, forKey: .kept)
        try c.encode(chunks, forKey: .chunks)
        try c.encode(probability, forKey: .probability)  // null, not absent, when there is none
        try c.encode(status, forKey: .status)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encodeIfPresent(tta, forKey: .tta)
        try c.encodeIfPresent(weightsSha256, forKey: .weightsSha256)
    }
}

/// The patient document `cls-worker run` prints: `Aggregation.patientScore` over its series.
public struct PatientClassification: Codable, Equatable, Sendable {
    public let patientId: String
    public let probability: Double?
    /// Why there is no probability (nil when there is one).
    public let reason: String?
    public let series: [SeriesClassification]

    public init(patientId: String, series: [SeriesClassification]) {
        self.patientId = patientId
        self.series = series
        probability = Aggregation.patientScore(series.map {
            Aggregation.ScoredSeries(mriType: $0.mriType, probability: $0.probability, chunkCount: $0.chunks.count)
        }).probability
        reason = probability == nil
            ? (series.isEmpty ? "no series" : "no series produced chunks: "
               + series.map { "\($0.mriType) \($0.status.rawValue)" }.joined(separator: ", "))
            : nil
    }

    enum CodingKeys: String, CodingKey {
        case patientId, probability, reason, series
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(patientId, forKey: .patientId)
        try c.encode(probability, forKey: .probability)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encode(series, forKey: .series)
    }

    public func jsonData() throws -> Data {
        try DocumentJSON.encoder.encode(self)
    }
}
