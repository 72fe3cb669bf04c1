/// How chunk probabilities become series and patient probabilities: the one place these rules are computed.
/// The offline report (`cls-worker run`) and the reporter's tables both call these functions; the database only
/// stores what they return.
public enum Aggregation {
    /// Series probability: the mean of its chunks' probabilities; nil without chunks.
    public static func seriesProbability(_ chunks: [ChunkResult]) -> Double? {
        mean(chunks.map(\.probability))
    }

    /// A series as the patient rule sees it: its MRI type, probability (nil without chunks) and chunk count.
    public struct ScoredSeries: Equatable, Sendable {
        public var mriType: String
        public var probability: Double?
        public var chunkCount: Int

        public init(mriType: String, probability: Double?, chunkCount: Int) {
            self.mriType = mriType
            self.probability = probability
            self.chunkCount = chunkCount
        }
    }

    /// A patient's aggregate: the probability (nil when no type has chunks), the MRI types that contributed and
    /// their chunks.
    public struct PatientScore: Equatable, Sendable {
        public var probability: Double?
        public var typeCount: Int
        public var chunkCount: Int

        public init(probability: Double?, typeCount: Int, chunkCount: Int) {
            self.probability = probability
            self.typeCount = typeCount
            self.chunkCount = chunkCount
        }
    }

    /// Patient probability: the unweighted mean over the MRI types that produced chunks, a type's value being
    /// the mean of its series' probabilities (so a type scanned twice does not count double).
    public static func patientScore(_ series: [ScoredSeries]) -> PatientScore {
        var byType: [String: [Double]] = [:]
        var chunkCount = 0
        for item in series {
            guard let probability = item.probability, item.chunkCount > 0 else { continue }
            byType[item.mriType, default: []].append(probability)
            chunkCount += item.chunkCount
        }
        // Types in a fixed order, so that the floating-point sum does not depend on hash order.
        let typeValues = byType.keys.sorted().compactMap { mean(byType[$0] ?? []) }
        return PatientScore(probability: mean(typeValues), typeCount: typeValues.count, chunkCount: chunkCount)
    }

    private static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
}
