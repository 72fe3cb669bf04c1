/// The binary classification figures the challenge judged by, for one set of (probability, label) pairs.
public struct BinaryEvaluation: Sendable, Equatable, Codable {
    /// The predicted class is "methylated" when the probability is at least this.
    public static let threshold = 0.5
    /// The standard normal quantile for a two-sided 95 % interval (scipy.stats.norm.ppf(0.975)).
    public static let z95 = 1.959963984540054

    public struct Interval: Sendable, Equatable, Codable {
        public let lower: Double
        public let upper: Double
    }

    /// One point of the ROC curve: the rates when every probability ≥ `threshold` is called positive (nil: the
    /// starting point, nothing called positive).
    public struct ROCPoint: Sendable, Equatable, Codable {
        public let threshold: Double?
        public let falsePositiveRate: Double
        public let truePositiveRate: Double
    }

    public let count: Int
    public let positives: Int
    public let negatives: Int
    /// Area under the ROC curve (ties count one half, as scikit-learn's `roc_auc_score`); nil without both classes.
    public let auroc: Double?
    /// DeLong's standard error of the AUROC (DeLong, DeLong & Clarke-Pearson 1988; Sun & Xu's midrank form).
    public let aurocStandardError: Double?
    /// AUROC ± z95 · standard error, clipped to [0, 1].
    public let aurocCI95: Interval?
    public let truePositives: Int
    public let falsePositives: Int
    public let trueNegatives: Int
    public let falseNegatives: Int
    public let accuracy: Double?
    /// True-positive rate at the threshold; nil without positives.
    public let sensitivity: Double?
    /// True-negative rate at the threshold; nil without negatives.
    public let specificity: Double?
    /// From (0, 0) to (1, 1), one point per distinct probability, highest first (scikit-learn's `roc_curve` with
    /// `drop_intermediate=False`); empty without both classes.
    public let rocCurve: [ROCPoint]

    public init(probabilities: [Double], methylated: [Bool]) {
        precondition(probabilities.count == methylated.count, "one label per probability")
        count = probabilities.count
        positives = methylated.lazy.filter { $0 }.count
        negatives = count - positives

        var tp = 0, fp = 0, tn = 0, fn = 0
        for (p, label) in zip(probabilities, methylated) {
            switch (p >= Self.threshold, label) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        (truePositives, falsePositives, trueNegatives, falseNegatives) = (tp, fp, tn, fn)
        accuracy = count > 0 ? Double(tp + tn) / Double(count) : nil
        sensitivity = positives > 0 ? Double(tp) / Double(positives) : nil
        specificity = negatives > 0 ? Double(tn) / Double(negatives) : nil

        guard positives > 0, negatives > 0 else {
            (auroc, aurocStandardError, aurocCI95, rocCurve) = (nil, nil, nil, [])
            return
        }
        let positiveScores = zip(probabilities, methylated).filter { $0.1 }.map(\.0)
        let negativeScores = zip(probabilities, methylated).filter { !$0.1 }.map(\.0)
        let (area, variance) = Self.delong(positives: positiveScores, negatives: negativeScores)
        let standardError = variance.squareRoot()
        auroc = area
        aurocStandardError = standardError
        aurocCI95 = Interval(lower: max(0, area - Self.z95 * standardError), upper: min(1, area + Self.z95 * standardError))
        rocCurve = Self.rocCurve(probabilities: probabilities, methylated: methylated)
    }

    /// AUROC and DeLong's variance through midranks: with T the midranks of all scores together and T⁺, T⁻ the
    /// midranks within each class, the structural components are V10ᵢ = (Tᵢ − T⁺ᵢ)/n and
    /// V01ⱼ = 1 − (Tⱼ − T⁻ⱼ)/m; AUROC is their mean and var = S10/m + S01/n (sample variances).
    static func delong(positives: [Double], negatives: [Double]) -> (auroc: Double, variance: Double) {
        let m = Double(positives.count), n = Double(negatives.count)
        let all = midranks(positives + negatives)
        let withinPositives = midranks(positives)
        let withinNegatives = midranks(negatives)
        let v10 = positives.indices.map { (all[$0] - withinPositives[$0]) / n }
        let v01 = negatives.indices.map { 1 - (all[positives.count + $0] - withinNegatives[$0]) / m }
        let area = v10.reduce(0, +) / m
        return (area, sampleVariance(v10) / m + sampleVariance(v01) / n)
    }

    /// 1-based ranks, ties sharing their mean rank.
    static func midranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, values[order[end + 1]] == values[order[start]] { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for k in start...end { ranks[order[k]] = rank }
            start = end + 1
        }
        return ranks
    }

    /// Variance with n − 1 in the denominator; 0 for a single value (one case in a class gives no spread).
    static func sampleVariance(_ values: [Double]) -> Double {
        guard values.count > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        return values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    }

    static func rocCurve(probabilities: [Double], methylated: [Bool]) -> [ROCPoint] {
        let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
        let p = Double(methylated.lazy.filter { $0 }.count), n = Double(methylated.count) - p
        var points = [ROCPoint(threshold: nil, falsePositiveRate: 0, truePositiveRate: 0)]
        var tp = 0.0, fp = 0.0
        var k = 0
        while k < order.count {
            let score = probabilities[order[k]]
            while k < order.count, probabilities[order[k]] == score {
                if methylated[order[k]] { tp += 1 } else { fp += 1 }
                k += 1
            }
            points.append(ROCPoint(threshold: score, falsePositiveRate: fp / n, truePositiveRate: tp / p))
        }
        return points
    }
}
