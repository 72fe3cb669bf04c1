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

        let report = try database.evaluate(labels)
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

    func testPageSourceReadsOnlyAndFindsPatients() async throws {
        let source = PageSource(database: database) { key, _ in Array(key.utf8) }
        let overview = try await source.overview()
        XCTAssertEqual(overview.patients.count, fixture.groups["patient"]!.count)
        XCTAssertNil(overview.evaluation)
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
        let evaluated = try await source.overview().evaluation
        XCTAssertNotNil(evaluated)
    }
}
