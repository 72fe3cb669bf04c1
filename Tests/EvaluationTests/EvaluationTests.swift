import Evaluation
import Foundation
import XCTest

/// Against tools/reference/evaluation_fixtures.py: scikit-learn's roc_auc_score and roc_curve, DeLong's variance
/// from its definition in NumPy, and the threshold figures, on a generated cohort with ties, probabilities of
/// exactly 0.5, rows without a probability, labels written zero-padded or not, and mismatched identifiers.
final class EvaluationTests: XCTestCase {
    struct Fixture: Decodable {
        struct Row: Decodable { let id: String; let p: Double? }
        struct Expected: Decodable {
            let count, positives, negatives, tp, fp, tn, fn: Int
            let accuracy, sensitivity, specificity, auroc, se, lower, upper: Double
            let roc: [[Double?]]
            let labelled_without_prediction, labelled_without_probability, predictions_without_label: [String]
        }
        let labels_csv: String
        let groups: [String: [Row]]
        let expected: [String: Expected]
    }

    static let fixture: Fixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/cohort.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    func predictions(_ group: String) -> [Prediction] {
        Self.fixture.groups[group]!.map { Prediction(patient: PatientKey($0.id), probability: $0.p) }
    }

    func testCohortMatchesScikitLearnAndDeLongReference() throws {
        let labels = try Labels(csv: Self.fixture.labels_csv)
        XCTAssertEqual(labels.methylated.count, 240)
        let types = ["FLAIR", "T1w", "T1wCE", "T2w"]
        let report = try EvaluationReport(labels: labels, predictionSource: "cohort", patientPredictions: predictions("patient"),
                                          perType: Dictionary(uniqueKeysWithValues: types.map { ($0, predictions($0)) }))
        XCTAssertEqual(report.perType.map(\.group), types)
        for cohort in [report.patient] + report.perType {
            let group = cohort.group
            let e = try XCTUnwrap(Self.fixture.expected[group])
            let m = cohort.metrics
            XCTAssertEqual([m.count, m.positives, m.negatives], [e.count, e.positives, e.negatives], group)
            XCTAssertEqual([m.truePositives, m.falsePositives, m.trueNegatives, m.falseNegatives], [e.tp, e.fp, e.tn, e.fn], group)
            XCTAssertEqual(try XCTUnwrap(m.auroc), e.auroc, accuracy: 1e-9, group)
            XCTAssertEqual(try XCTUnwrap(m.aurocStandardError), e.se, accuracy: 1e-9, group)
            XCTAssertEqual(try XCTUnwrap(m.aurocCI95?.lower), e.lower, accuracy: 1e-9, group)
            XCTAssertEqual(try XCTUnwrap(m.aurocCI95?.upper), e.upper, accuracy: 1e-9, group)
            XCTAssertEqual(try XCTUnwrap(m.accuracy), e.accuracy, accuracy: 1e-9, group)
            XCTAssertEqual(try XCTUnwrap(m.sensitivity), e.sensitivity, accuracy: 1e-9, group)
            XCTAssertEqual(try XCTUnwrap(m.specificity), e.specificity, accuracy: 1e-9, group)
            XCTAssertEqual(m.rocCurve.count, e.roc.count, group)
            for (point, reference) in zip(m.rocCurve, e.roc) {
                XCTAssertEqual(point.threshold, reference[0] ?? nil, group)
                XCTAssertEqual(point.falsePositiveRate, reference[1]!, accuracy: 1e-12, group)
                XCTAssertEqual(point.truePositiveRate, reference[2]!, accuracy: 1e-12, group)
            }
            XCTAssertEqual(cohort.labelledWithoutPrediction.map(\.value), e.labelled_without_prediction, group)
            XCTAssertEqual(cohort.labelledWithoutProbability.map(\.value), e.labelled_without_probability, group)
            XCTAssertEqual(cohort.predictionsWithoutLabel.map(\.value), e.predictions_without_label, group)
        }
        // Every labelled patient is accounted for exactly once.
        let p = report.patient
        XCTAssertEqual(p.metrics.count + p.labelledWithoutPrediction.count + p.labelledWithoutProbability.count, 240)
        // The text table states the method and lists the mismatched identifiers.
        let table = report.textTable
        XCTAssertTrue(table.contains("DeLong"))
        XCTAssertTrue(table.hasPrefix("predictions: cohort\n"), table)
        XCTAssertTrue(table.contains("patient: predicted without label: 901 902 903 904 905 906"), table)
        XCTAssertTrue(table.contains("patient: labelled without prediction: 231 232"), table)
        // JSON round trip (the `--json` output).
        let decoded = try JSONDecoder().decode(EvaluationReport.self, from: JSONEncoder().encode(report))
        XCTAssertEqual(decoded, report)
    }

    func testPatientKeysNormaliseZeroPadding() {
        XCTAssertEqual(PatientKey("00012"), PatientKey("12"))
        XCTAssertEqual(PatientKey(" 000 ").value, "0")
        XCTAssertEqual(PatientKey("BraTS-007").value, "BraTS-007")
        XCTAssertLessThan(PatientKey("9"), PatientKey("00010"))
    }

    func testLabelFileErrorsAreReported() {
        XCTAssertThrowsError(try Labels(csv: "id,value\n1,0\n")) { XCTAssertEqual($0 as? EvaluationError, .badLabelHeader("id,value")) }
        XCTAssertThrowsError(try Labels(csv: "BraTS21ID,MGMT_value\n00001,1\n1,0\n")) {
            XCTAssertEqual($0 as? EvaluationError, .badLabelLine(line: 3, reason: "patient 1 is labelled both 0 and 1"))
        }
        XCTAssertThrowsError(try Labels(csv: "BraTS21ID,MGMT_value\n1,yes\n"))
        XCTAssertThrowsError(try Labels(csv: "BraTS21ID,MGMT_value\n"))
        // Column order follows the header; a byte-order mark is tolerated.
        XCTAssertEqual(try Labels(csv: "\u{FEFF}MGMT_value,BraTS21ID\n1,00005\n").methylated, [PatientKey("5"): true])
    }

    func testOneClassGivesNoAUROCAndDuplicatesAreErrors() throws {
        let labels = try Labels(csv: "BraTS21ID,MGMT_value\n1,1\n2,1\n")
        let cohort = try CohortEvaluation(group: "patient", labels: labels, predictions: [
            Prediction(patient: PatientKey("1"), probability: 0.7), Prediction(patient: PatientKey("2"), probability: 0.2)])
        XCTAssertNil(cohort.metrics.auroc)
        XCTAssertNil(cohort.metrics.specificity)
        XCTAssertEqual(cohort.metrics.sensitivity, 0.5)
        XCTAssertThrowsError(try CohortEvaluation(group: "T2w", labels: labels, predictions: [
            Prediction(patient: PatientKey("1"), probability: 0.7), Prediction(patient: PatientKey("001"), probability: 0.2)]))
        XCTAssertThrowsError(try CohortEvaluation(group: "T2w", labels: labels, predictions: [
            Prediction(patient: PatientKey("1"), probability: 1.5)]))
    }
}
