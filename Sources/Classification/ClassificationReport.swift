import Foundation

public struct ChunkProbability: Codable, Equatable, Sendable {
    public let index: Int
    /// Instance number of the chunk's first slice (nil if that slice had none).
    public let first: Int?
    public let probability: Double

    public init(index: Int, first: Int?, probability: Double) {
        self.index = index
        self.first = first
        self.probability = probability
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(first, forKey: .first)
        try c.encode(probability, forKey: .probability)
    }
}

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
    public let chunks: [ChunkProbability]
    /// Mean of the chunk probabilities; nil when there are no chunks.
    public let probability: Double?
    public let status: SeriesOutcome
    public let reason: String?
    public let tta: TestTimeAugmentation?
    public let weightsSHA256: String?

    public init(mriType: String, slicesTotal: Int, slicesNonempty: Int, kept: [Int?], chunks: [ChunkProbability],
                status: SeriesOutcome, reason: String?, tta: TestTimeAugmentation?, weightsSHA256: String?) {
        self.mriType = mriType
        self.slicesTotal = slicesTotal
        self.slicesNonempty = slicesNonempty
        self.kept = kept
        self.chunks = chunks
        self.probability = chunks.isEmpty ? nil : chunks.map(\.probability).reduce(0, +) / Double(chunks.count)
        self.status = status
        self.reason = reason
        self.tta = tta
        self.weightsSHA256 = weightsSHA256
    }

    /// The record of a series whose MRI type has no classifier in the model directory: skipped, with the reason,
    /// the same offline (`cls-worker run`) and in the fleet.
    public static func skipped(_ directory: URL, missingWeights weightsURL: URL) throws -> SeriesClassification {
        let metadata = try SeriesInput.metadata(in: directory)
        return SeriesClassification(
            mriType: metadata.mriType.rawValue, slicesTotal: metadata.slicesTotal, slicesNonempty: metadata.slicesNonempty,
            kept: [], chunks: [], status: .skipped, reason: "no \(weightsURL.lastPathComponent) in the model directory",
            tta: nil, weightsSHA256: nil)
    }

    init(input: SeriesInput, kept: [Int?], chunks: [ChunkProbability], status: SeriesOutcome, reason: String?,
         augmentation: TestTimeAugmentation, weightsSHA256: String?) {
        self.init(mriType: input.mriType.rawValue, slicesTotal: input.slicesTotal, slicesNonempty: input.slicesNonempty,
                  kept: kept, chunks: chunks, status: status, reason: reason, tta: augmentation, weightsSHA256: weightsSHA256)
    }

    enum CodingKeys: String, CodingKey {
        case mriType = "mri_type", slicesTotal = "slices_total", slicesNonempty = "slices_nonempty", kept, chunks
        case probability, status, reason, tta, weightsSHA256 = "weights_sha256"
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
        try c.encodeIfPresent(weightsSHA256, forKey: .weightsSHA256)
    }
}

/// The patient document `cls-worker run` prints: the unweighted mean over the series that produced chunks.
public struct PatientClassification: Codable, Equatable, Sendable {
    public let patientID: String
    public let probability: Double?
    /// Why there is no probability (nil when there is one).
    public let reason: String?
    public let series: [SeriesClassification]

    public init(patientID: String, series: [SeriesClassification]) {
        self.patientID = patientID
        self.series = series
        let scored = series.compactMap(\.probability)
        probability = scored.isEmpty ? nil : scored.reduce(0, +) / Double(scored.count)
        reason = scored.isEmpty
            ? (series.isEmpty ? "no series" : "no series produced chunks: "
               + series.map { "\($0.mriType) \($0.status.rawValue)" }.joined(separator: ", "))
            : nil
    }

    enum CodingKeys: String, CodingKey {
        case patientID = "patient_id", probability, reason, series
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(patientID, forKey: .patientID)
        try c.encode(probability, forKey: .probability)
        try c.encodeIfPresent(reason, forKey: .reason)
        try c.encode(series, forKey: .series)
    }

    /// Pretty, key-sorted JSON.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }
}
