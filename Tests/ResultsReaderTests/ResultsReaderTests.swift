import Domain
import Evaluation
import Foundation
import Logging
import ResultsPage
import ResultsReader
import ResultsStore
import XCTest

/// Against the real PostgreSQL named by MGMT_PG_CONNINFO: the generated cohort of
/// Tests/EvaluationTests/Fixtures/cohort.json written into the results tables, evaluated by `reporter evaluate`'s
/// code and by the `label_evaluation` view, both equal to scikit-learn and the NumPy DeLong to 1e-9.
final class ResultsReaderTests: XCTestCase {
    struct Fixture: Decodable {
        struct Row: Decodable { let id: String; let p: Double? }
        struct Expected: Decodable {
            let count, positives, negatives, tp, fp, tn, fn: Int
            let accuracy, sensitivity, specificity, auroc, se, lower, upper: Double
            let labelled_without_prediction, labelled_without_probability, predictions_without_label: [String]
        }
        let labels_csv: String
        let groups: [String: [Row]]
        let expected: [String: Expected]
    }

    static let types = ["FLAIR", "T1w", "T1wCE", "T2w"]

    private var schema = ""
    private var database: ResultsDatabase!
    private var fixture: Fixture!

    override func setUpWithError() throws {
        guard let conninfo = ProcessInfo.processInfo.environment["MGMT_PG_CONNINFO"], !conninfo.isEmpty else {
            XCTFail("MGMT_PG_CONNINFO is not set (run scripts/test.sh, or scripts/servers.sh start and source scripts/env.sh)")
            throw CocoaError(.featureUnsupported)
        }
        schema = "reader_" + UUID().uuidString.prefix(8).lowercased()
        let connection = try PostgresConnection(conninfo: conninfo)
        try ResultsSchema.migrate(connection, schema: schema, logger: Logger(label: "test"))
        addTeardownBlock { [schema] in _ = try? connection.execute("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE") }
        database = ResultsDatabase(conninfo: conninfo, schema: schema)
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../EvaluationTests/Fixtures/cohort.json")
        fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        try writeCohort(connection)
    }

    /// The fixture's predictions as the reporter would have recorded them: a study per patient, a series per
    /// (patient, type) with its series prediction, and the patient prediction.
    private func writeCohort(_ connection: PostgresConnection) throws {
        try connection.withTransaction { tx in
            var patients = Set<String>()
            for group in Self.types { for row in fixture.groups[group]! { patients.insert(row.id) } }
            for row in fixture.groups["patient"]! { patients.insert(row.id) }
            for id in patients {
                try tx.execute("INSERT INTO studies (study_instance_uid, patient_id, status) VALUES ($1, $2, 'done')",
                               ["1.9.\(Int(id)!)", id])
            }
            for row in fixture.groups["patient"]! {
                try tx.execute("""
                    INSERT INTO patient_predictions (patient_id, probability, n_types, n_chunks, reason, weights_sha256, computed_at)
                    VALUES ($1, $2, 1, 1, $3, '{}', now())
                    """, [row.id, row.p, row.p == nil ? "no chunks" : nil])
            }
            for (t, type) in Self.types.enumerated() {
                for row in fixture.groups[type]! {
                    let uid = "1.9.\(Int(row.id)!).\(t)"
                    try tx.execute("""
                        INSERT INTO series (series_instance_uid, study_instance_uid, patient_id, mri_type, status)
                        VALUES ($1, $2, $3, $4, 'classified')
                        """, [uid, "1.9.\(Int(row.id)!)", row.id, type])
                    try tx.execute("""
                        INSERT INTO series_predictions (series_instance_uid, patient_id, mri_type, probability, n_chunks,
                                                        weights_sha256, segmentation_weights_sha256, computed_at)
                        VALUES ($1, $2, $3, $4, $5, 'w', 's', now())
                        """, [uid, row.id, type, row.p, row.p == nil ? 0 : 1])
                }
            }
        }
    }

    func testEvaluationAndViewMatchTheReference() throws {
        XCTAssertNil(try database.loadedLabels())
        let labels = try Labels(csv: fixture.labels_csv)
        try database.loadLabels(labels, from: "cohort.json")
        XCTAssertEqual(try database.loadedLabels(), labels)
        // Loading again replaces, never duplicates.
        try database.loadLabels(labels, from: "cohort.json")
        XCTAssertEqual(try database.loadedLabels()?.methylated.count, 240)

        let report = try database.evaluate(labels, from: .model(.nfnetLSTM))
        let view = try database.labelEvaluationView()
        XCTAssertEqual(Set(view.keys), Set(["patient"] + Self.types))
        for cohort in [report.patient] + report.perType {
            let e = try XCTUnwrap(fixture.expected[cohort.group])
            let m = cohort.metrics
            let g = cohort.group
            XCTAssertEqual([m.count, m.positives, m.negatives, m.truePositives, m.falsePositives, m.trueNegatives, m.falseNegatives],
                           [e.count, e.positives, e.negatives, e.tp, e.fp, e.tn, e.fn], g)
            for (value, reference) in [(m.auroc, e.auroc), (m.aurocStandardError, e.se), (m.aurocCI95?.lower, e.lower),
                                       (m.aurocCI95?.upper, e.upper), (m.accuracy, e.accuracy), (m.sensitivity, e.sensitivity),
                                       (m.specificity, e.specificity)] {
                XCTAssertEqual(try XCTUnwrap(value), reference, accuracy: 1e-9, g)
            }
            XCTAssertEqual(cohort.labelledWithoutPrediction.map(\.value), e.labelled_without_prediction, g)
            XCTAssertEqual(cohort.labelledWithoutProbability.map(\.value), e.labelled_without_probability, g)
            XCTAssertEqual(cohort.predictionsWithoutLabel.map(\.value), e.predictions_without_label, g)

            // The same numbers one SQL query away.
            let row = try XCTUnwrap(view[g])
            XCTAssertEqual(try ["n", "positives", "negatives", "tp", "fp", "tn", "fn"].map { try row.int($0) },
                           [e.count, e.positives, e.negatives, e.tp, e.fp, e.tn, e.fn], g)
            for (column, reference) in [("auroc", e.auroc), ("auroc_se", e.se), ("auroc_ci_lower", e.lower),
                                        ("auroc_ci_upper", e.upper), ("accuracy", e.accuracy),
                                        ("sensitivity", e.sensitivity), ("specificity", e.specificity)] {
                XCTAssertEqual(try row.double(column), reference, accuracy: 1e-9, "\(g) \(column)")
            }
            XCTAssertEqual(try row.int("labelled_without_prediction"), e.labelled_without_prediction.count, g)
            XCTAssertEqual(try row.int("labelled_without_probability"), e.labelled_without_probability.count, g)
            XCTAssertEqual(try row.int("predicted_without_label"), e.predictions_without_label.count, g)
        }
    }

    /// The 3D model's rows for the cohort (probability p² where the 2D one is p, so the two differ but are not
    /// independent), as the reporter records them, its status on every series.
    private func writeVolumeCohort(_ connection: PostgresConnection) throws {
        try connection.withTransaction { tx in
            try tx.execute("UPDATE series SET resnet3d_status = 'classified'")
            for row in fixture.groups["patient"]! {
                try tx.execute("""
                    INSERT INTO patient_predictions (patient_id, model, probability, n_types, n_chunks, reason, weights_sha256,
                                                     computed_at)
                    VALUES ($1, 'resnet3d', $2, 1, 1, $3, '{}', now())
                    """, [row.id, row.p.map { $0 * $0 }, row.p == nil ? "no volume" : nil])
            }
            for (t, type) in Self.types.enumerated() {
                for row in fixture.groups[type]! {
                    try tx.execute("""
                        INSERT INTO series_predictions (series_instance_uid, patient_id, mri_type, model, probability, n_chunks,
                                                        weights_sha256, computed_at)
                        VALUES ($1, $2, $3, 'resnet3d', $4, 1, 'w3', now())
                        """, ["1.9.\(Int(row.id)!).\(t)", row.id, type, row.p.map { $0 * $0 }])
                }
            }
        }
    }

    /// With the 3D model's rows: `evaluate` per model equals the `label_evaluation` view's groups of that model, the
    /// models' mean equals an evaluation of the means computed here, and the page source shows both models.
    func testEachModelAndTheirMeanAreEvaluatedAndShown() async throws {
        XCTAssertEqual(try database.sourcesWithPredictions(), [.model(.nfnetLSTM)])
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET search_path TO \"\(schema)\"")
        try writeVolumeCohort(connection)
        XCTAssertEqual(try database.sourcesWithPredictions(), PredictionSource.allCases)
        let labels = try Labels(csv: fixture.labels_csv)
        try database.loadLabels(labels, from: "cohort.json")

        let view = try database.labelEvaluationView()
        let volume = try database.evaluate(labels, from: .model(.resnet3d))
        XCTAssertEqual(volume.predictionSource, "resnet3d")
        for cohort in [volume.patient] + volume.perType {
            let row = try XCTUnwrap(view["resnet3d:" + cohort.group], cohort.group)
            let m = cohort.metrics
            XCTAssertEqual(try ["n", "tp", "fp", "tn", "fn"].map { try row.int($0) },
                           [m.count, m.truePositives, m.falsePositives, m.trueNegatives, m.falseNegatives], cohort.group)
            XCTAssertEqual(try row.double("auroc"), try XCTUnwrap(m.auroc), accuracy: 1e-9, cohort.group)
            XCTAssertEqual(try row.double("auroc_ci_lower"), try XCTUnwrap(m.aurocCI95?.lower), accuracy: 1e-9, cohort.group)
        }
        // p² changes the calls at 0.5 but not the order: same AUROC as the 2D model, other accuracy.
        let twoD = try database.evaluate(labels, from: .model(.nfnetLSTM))
        XCTAssertEqual(try XCTUnwrap(volume.patient.metrics.auroc), try XCTUnwrap(twoD.patient.metrics.auroc), accuracy: 1e-12)
        XCTAssertNotEqual(volume.patient.metrics.truePositives, twoD.patient.metrics.truePositives)

        let mean = try database.evaluate(labels, from: .meanOfModels)
        func means(_ group: String) -> [Prediction] {
            fixture.groups[group]!.map { Prediction(patient: PatientKey($0.id), probability: $0.p.map { ($0 + $0 * $0) / 2 }) }
        }
        let expected = try EvaluationReport(labels: labels, predictionSource: "mean", patientPredictions: means("patient"),
                                            perType: Dictionary(uniqueKeysWithValues: Self.types.map { ($0, means($0)) }))
        XCTAssertEqual(mean.predictionSource, "mean")
        for (got, want) in zip([mean.patient] + mean.perType, [expected.patient] + expected.perType) {
            XCTAssertEqual(got.group, want.group)
            XCTAssertEqual(got.metrics.count, want.metrics.count, got.group)
            XCTAssertEqual(got.metrics.truePositives, want.metrics.truePositives, got.group)
            XCTAssertEqual(try XCTUnwrap(got.metrics.auroc), try XCTUnwrap(want.metrics.auroc), accuracy: 1e-9, got.group)
        }

        let source = PageSource(database: database) { key, _ in Array(key.utf8) }
        let overview = try await source.overview()
        XCTAssertEqual(overview.evaluations.map(\.predictionSource), ["nfnet-lstm", "resnet3d", "mean"])
        let scored = try XCTUnwrap(fixture.groups["patient"]!.first { $0.p != nil })
        let p = try XCTUnwrap(scored.p)
        let summary = try XCTUnwrap(overview.patients.first { $0.patientId == scored.id })
        XCTAssertEqual(try XCTUnwrap(summary.otherSources["resnet3d"] ?? nil), p * p, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(summary.otherSources["mean"] ?? nil), (p + p * p) / 2, accuracy: 1e-12)
        let detail = try await source.patient(scored.id)
        XCTAssertEqual(detail?.summary?.otherSources, summary.otherSources)
        let volumes = try XCTUnwrap(detail?.series.compactMap(\.volume))
        XCTAssertEqual(volumes.count, detail?.series.count)
        XCTAssertEqual(Set(volumes.map(\.status)), ["classified"])
    }

    func testPageSourceReadsOnlyAndFindsPatients() async throws {
        let source = PageSource(database: database) { key, _ in Array(key.utf8) }
        let overview = try await source.overview()
        XCTAssertEqual(overview.patients.count, fixture.groups["patient"]!.count)
        XCTAssertEqual(overview.evaluations, [])
        XCTAssertTrue(overview.patients.allSatisfy { $0.otherSources.isEmpty }, "no 3D model, no 3D columns")
        let first = try XCTUnwrap(fixture.groups["patient"]!.first)
        let detail = try await source.patient(first.id)
        XCTAssertEqual(detail?.summary?.probability, first.p)
        XCTAssertEqual(detail?.series.count, Self.types.filter { t in fixture.groups[t]!.contains { $0.id == first.id } }.count)
        let unknown = try await source.patient("99999")
        XCTAssertNil(unknown)
        let hostile = try await source.patient("1'; DROP TABLE studies; --")
        XCTAssertNil(hostile)
        let noPreview = try await source.preview(seriesUID: "1.9.1.0")
        XCTAssertNil(noPreview)
        XCTAssertEqual(try PostgresConnection(conninfo: database.conninfo)
            .execute("SELECT count(*) AS n FROM \"\(schema)\".patient_predictions").rows[0].int("n"), overview.patients.count)

        // The page's sessions are read-only: a write fails with SQLSTATE 25006 and changes nothing.
        let connection = try PostgresConnection(conninfo: database.conninfo)
        try connection.execute("SET search_path TO \"\(schema)\"")
        try connection.execute("UPDATE series SET preview_key = 'p.png', preview_sha256 = 'abc' WHERE series_instance_uid = '1.9.1.0'")
        let preview = try await source.preview(seriesUID: "1.9.1.0")
        XCTAssertEqual(preview, Array("p.png".utf8))
        XCTAssertThrowsError(try database.read("write attempt") {
            try $0.execute("DELETE FROM patient_predictions", role: "write attempt")
        }) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "25006", "\(error)")
        }
        try database.loadLabels(Labels(csv: fixture.labels_csv), from: "test")
        let evaluated = try await source.overview().evaluations
        XCTAssertEqual(evaluated.map(\.predictionSource), ["nfnet-lstm"])
    }
}
