/// One prediction to be judged: a patient's (or one MRI type's) probability, nil when the fleet produced none
/// (e.g. no slice showed a tumour).
public struct Prediction: Sendable, Equatable, Codable {
    public let patient: PatientKey
    public let probability: Double?

    public init(patient: PatientKey, probability: Double?) {
        self.patient = patient
        self.probability = probability
    }
}

/// Labels joined with one group of predictions (the patients', or one MRI type's). Nobody is dropped silently:
/// every labelled patient is either scored or listed as lacking a prediction, and every prediction is either
/// scored or listed as lacking a label.
public struct CohortEvaluation: Sendable, Equatable, Codable {
    /// "patient", or an MRI type.
    public let group: String
    public let metrics: BinaryEvaluation
    /// Labelled patients the group has no prediction row for.
    public let labelledWithoutPrediction: [PatientKey]
    /// Labelled patients whose prediction row has no probability.
    public let labelledWithoutProbability: [PatientKey]
    /// Predictions (with or without a probability) for patients the labels do not name.
    public let predictionsWithoutLabel: [PatientKey]

    public init(group: String, labels: Labels, predictions: [Prediction]) throws {
        var byPatient: [PatientKey: Double?] = [:]
        for prediction in predictions {
            guard byPatient.updateValue(prediction.probability, forKey: prediction.patient) == nil else {
                throw EvaluationError.duplicatePrediction(prediction.patient, group: group)
            }
            if let p = prediction.probability, !(0...1).contains(p) {
                throw EvaluationError.probabilityOutOfRange(prediction.patient, p)
            }
        }
        var scored: [(PatientKey, Double, Bool)] = []
        var withoutPrediction: [PatientKey] = [], withoutProbability: [PatientKey] = []
        for (patient, methylated) in labels.methylated {
            switch byPatient[patient] {
            case .none: withoutPrediction.append(patient)
            case .some(.none): withoutProbability.append(patient)
            case .some(.some(let p)): scored.append((patient, p, methylated))
            }
        }
        // A fixed order so that the figures do not depend on dictionary order (the float sums would).
        scored.sort { $0.0 < $1.0 }
        self.group = group
        metrics = BinaryEvaluation(probabilities: scored.map(\.1), methylated: scored.map(\.2))
        labelledWithoutPrediction = withoutPrediction.sorted()
        labelledWithoutProbability = withoutProbability.sorted()
        predictionsWithoutLabel = byPatient.keys.filter { labels.methylated[$0] == nil }.sorted()
    }
}

/// `reporter evaluate`: the patients' figures and the same per MRI type.
public struct EvaluationReport: Sendable, Equatable, Codable {
    /// How the confidence interval is computed, stated in every report.
    public static let intervalMethod = "DeLong (95 %, normal approximation, midrank form)"

    public let intervalMethod: String
    /// Whose probabilities were judged: a model's name (`nfnet-lstm`, `resnet3d`) or `mean` (of the models).
    public let predictionSource: String
    public let labelledPatients: Int
    public let patient: CohortEvaluation
    public let perType: [CohortEvaluation]

    /// `perType` maps an MRI type to its predictions, one per patient.
    public init(labels: Labels, predictionSource: String, patientPredictions: [Prediction],
                perType: [String: [Prediction]]) throws {
        intervalMethod = Self.intervalMethod
        self.predictionSource = predictionSource
        labelledPatients = labels.methylated.count
        patient = try CohortEvaluation(group: "patient", labels: labels, predictions: patientPredictions)
        self.perType = try perType.keys.sorted().map {
            try CohortEvaluation(group: $0, labels: labels, predictions: perType[$0]!)
        }
    }

    /// The plain-text table `reporter evaluate` prints.
    public var textTable: String {
        var lines = ["predictions: \(predictionSource)",
                     "AUROC 95 % CI: \(intervalMethod); class methylated when probability ≥ \(BinaryEvaluation.threshold)",
                     "labelled patients: \(labelledPatients)",
                     ""]
        let header = ["group", "n", "pos", "neg", "AUROC", "95% CI", "accuracy", "sensitivity", "specificity",
                      "no pred", "no prob", "no label"]
        var rows = [header]
        for cohort in [patient] + perType {
            let m = cohort.metrics
            rows.append([cohort.group, "\(m.count)", "\(m.positives)", "\(m.negatives)", Self.format(m.auroc),
                         m.aurocCI95.map { "\(Self.format($0.lower))–\(Self.format($0.upper))" } ?? "–",
                         Self.format(m.accuracy), Self.format(m.sensitivity), Self.format(m.specificity),
                         "\(cohort.labelledWithoutPrediction.count)", "\(cohort.labelledWithoutProbability.count)",
                         "\(cohort.predictionsWithoutLabel.count)"])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            let line = zip(row, widths).map { $0.padding(toLength: $1) }.joined(separator: "  ")
            lines.append(String(line.reversed().drop { $0 == " " }.reversed()))
        }
        for cohort in [patient] + perType {
            for (what, keys) in [("labelled without prediction", cohort.labelledWithoutPrediction),
                                 ("labelled without probability", cohort.labelledWithoutProbability),
                                 ("predicted without label", cohort.predictionsWithoutLabel)] where !keys.isEmpty {
                lines.append("\(cohort.group): \(what): \(keys.map(\.value).joined(separator: " "))")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func format(_ value: Double?) -> String {
        guard let value else { return "–" }
        let scaled = (value * 1000).rounded() / 1000
        var text = "\(scaled)"
        if let dot = text.firstIndex(of: ".") {
            let decimals = text.distance(from: dot, to: text.endIndex) - 1
            if decimals < 3 { text += String(repeating: "0", count: 3 - decimals) }
        }
        return text
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
