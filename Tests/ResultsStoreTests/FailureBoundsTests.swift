import Foundation
import Logging
import ResultsStore
import XCTest

/// A hostile or broken message must not make a huge `failures` row (one 30 MB study path became a 62 MB row).
final class FailureBoundsTests: XCTestCase {
    func testFailureTextIsBoundedWhateverTheMessageCarried() throws {
        guard let conninfo = ProcessInfo.processInfo.environment["MGMT_PG_CONNINFO"], !conninfo.isEmpty else {
            return XCTFail("MGMT_PG_CONNINFO is not set (run scripts/test.sh)")
        }
        let connection = try PostgresConnection(conninfo: conninfo)
        let schema = "bounds_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        addTeardownBlock { _ = try? connection.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE") }
        try ResultsSchema.migrate(connection, schema: schema, logger: Logger(label: "test"))
        let huge = "export/" + String(repeating: "../etc/", count: 30 * 1024 * 1024 / 7)
        try ResultsTables(connection).recordFailure(
            kind: .failed, stage: "ingest", jobId: huge, patientId: huge, studyInstanceUid: huge,
            seriesInstanceUid: huge, source: huge, queue: huge, reason: "cannot read \(huge)", bodyExcerpt: huge)
        let row = try XCTUnwrap(connection.execute("""
            SELECT length(job_id) AS job_id, length(patient_id) AS patient_id, length(source) AS source,
                   length(reason) AS reason, length(body_excerpt) AS excerpt, reason AS reason_text FROM failures
            """).rows.first)
        let limit = ResultsTables.FailureTextLimit.self
        XCTAssertLessThanOrEqual(try row.int("job_id"), limit.identifier)
        XCTAssertLessThanOrEqual(try row.int("patient_id"), limit.identifier)
        XCTAssertLessThanOrEqual(try row.int("source"), limit.source)
        XCTAssertLessThanOrEqual(try row.int("reason"), limit.reason)
        XCTAssertLessThanOrEqual(try row.int("excerpt"), limit.bodyExcerpt)
        let reason = try row.string("reason_text")
        XCTAssertTrue(reason.hasPrefix("cannot read export/../etc/"), reason)
        XCTAssertTrue(reason.hasSuffix("bytes in all]"), String(reason.suffix(60)))
    }

    func testShortTextIsKeptAsItIs() {
        XCTAssertEqual("1.2.840.10008".bounded(to: 64), "1.2.840.10008")
        XCTAssertEqual("é".bounded(to: 1), "é")  // 2 UTF-8 bytes, 1 character: within the limit
        let cut = String(repeating: "x", count: 100).bounded(to: 40)
        XCTAssertEqual(cut.count, 40)
        XCTAssertTrue(cut.hasSuffix("… [100 bytes in all]"), cut)
    }
}
