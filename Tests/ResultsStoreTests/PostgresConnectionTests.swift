import Foundation
import ResultsStore
import XCTest

/// Against the real server named by MGMT_PG_CONNINFO; each test uses its own table and drops it.
final class PostgresConnectionTests: XCTestCase {
    private struct TestAbort: Error {}

    private func conninfo() throws -> String {
        guard let value = ProcessInfo.processInfo.environment["MGMT_PG_CONNINFO"], !value.isEmpty else {
            XCTFail("MGMT_PG_CONNINFO is not set (run scripts/test.sh, or scripts/servers.sh start and source scripts/env.sh)")
            throw TestAbort()
        }
        return value
    }

    /// A fresh table `(id text primary key, n int, x float8, flag bool)` dropped when the test ends.
    private func makeTable(_ connection: PostgresConnection) throws -> String {
        let table = "rs_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try connection.execute(
            "CREATE TABLE \(table) (id text PRIMARY KEY, n int, x double precision, flag boolean)",
            role: "create test table")
        addTeardownBlock { _ = try? connection.execute("DROP TABLE IF EXISTS \(table)") }
        return table
    }

    func testTransactionCommitsAndValuesRoundTrip() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        let table = try makeTable(connection)
        let inserted = try connection.withTransaction(role: "insert two") { tx -> Int in
            let first = try tx.execute("INSERT INTO \(table) VALUES ($1, $2, $3, $4)", ["a", 7, 0.1, true])
            let second = try tx.execute("INSERT INTO \(table) VALUES ($1, $2, $3, $4)", ["b", -3, 1e-300, false])
            return first.affectedRows + second.affectedRows
        }
        XCTAssertEqual(inserted, 2)

        // A second connection sees the rows: they were committed, not just visible inside the transaction.
        let reader = try PostgresConnection(conninfo: conninfo())
        let result = try reader.execute("SELECT id, n, x, flag FROM \(table) ORDER BY id")
        XCTAssertEqual(result.columns, ["id", "n", "x", "flag"])
        XCTAssertEqual(result.rows.count, 2)
        XCTAssertEqual(try result.rows[0].string("id"), "a")
        XCTAssertEqual(try result.rows[0].int("n"), 7)
        XCTAssertEqual(try result.rows[0].double("x"), 0.1)
        XCTAssertEqual(try result.rows[0].bool("flag"), true)
        XCTAssertEqual(try result.rows[1].int("n"), -3)
        XCTAssertEqual(try result.rows[1].double("x"), 1e-300)
        XCTAssertEqual(try result.rows[1].bool("flag"), false)
        XCTAssertThrowsError(try result.rows[0].string("missing")) { error in
            XCTAssertEqual(error as? PostgresRowError, .noSuchColumn("missing"))
        }
        XCTAssertThrowsError(try result.rows[0].int("id")) { error in
            XCTAssertEqual(error as? PostgresRowError, .notConvertible(column: "id", to: "Int"))
        }
    }

    func testThrownErrorRollsBackTheTransaction() throws {
        struct StageFailed: Error, Equatable {}
        let connection = try PostgresConnection(conninfo: conninfo())
        let table = try makeTable(connection)
        XCTAssertThrowsError(
            try connection.withTransaction { tx in
                try tx.execute("INSERT INTO \(table) (id) VALUES ($1)", ["rolled-back"])
                throw StageFailed()
            }
        ) { error in
            XCTAssertEqual(error as? StageFailed, StageFailed())
        }
        let count = try connection.execute("SELECT count(*) AS c FROM \(table)").rows[0].int("c")
        XCTAssertEqual(count, 0)
        // The connection is usable again: the transaction was closed, so a new one can start.
        try connection.withTransaction { tx in try tx.execute("INSERT INTO \(table) (id) VALUES ($1)", ["kept"]) }
        XCTAssertEqual(try connection.execute("SELECT id FROM \(table)").rows.map { try $0.string("id") }, ["kept"])
    }

    func testUniqueViolationCarriesSQLStateAndRoleButNotTheValue() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        let table = try makeTable(connection)
        let patientId = "PATIENT-0042-SECRET"
        try connection.execute("INSERT INTO \(table) (id) VALUES ($1)", [patientId])
        XCTAssertThrowsError(
            try connection.execute("INSERT INTO \(table) (id) VALUES ($1)", [patientId], role: "insert study")
        ) { error in
            guard let error = error as? PostgresError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(error.kind, .statementFailed)
            XCTAssertEqual(error.sqlState, SQLState.uniqueViolation)
            XCTAssertEqual(error.role, "insert study")
            XCTAssertTrue(error.message.contains("duplicate key"), error.message)
            XCTAssertFalse(error.description.contains(patientId), error.description)
            XCTAssertFalse(error.isConnectionLost)
            XCTAssertFalse(error.isTransient)
        }
    }

    func testNullRoundTrip() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        let table = try makeTable(connection)
        try connection.execute("INSERT INTO \(table) VALUES ($1, $2, $3, $4)", ["with-nulls", nil, nil, nil])
        let row = try XCTUnwrap(connection.execute("SELECT * FROM \(table)").rows.first)
        XCTAssertNil(try row.optionalValue("n", as: Int.self))
        XCTAssertNil(try row.optionalValue("x", as: Double.self))
        XCTAssertNil(try row.optionalValue("flag", as: Bool.self))
        XCTAssertTrue(try row.isNull("n"))
        XCTAssertEqual(try row.optionalValue("id", as: String.self), "with-nulls")
        XCTAssertThrowsError(try row.int("n")) { error in
            XCTAssertEqual(error as? PostgresRowError, .unexpectedNull(column: "n"))
        }
        // NULL is a value, not the text "NULL" or an empty string.
        let typed = try connection.execute("SELECT $1::text IS NULL AS a, $2::text = '' AS b", [nil, ""])
        XCTAssertEqual(try typed.rows[0].bool("a"), true)
        XCTAssertEqual(try typed.rows[0].bool("b"), true)
    }

    func testUnreachableDatabaseFailsQuicklyWithOneClearError() throws {
        let started = Date()
        XCTAssertThrowsError(try PostgresConnection(conninfo: "host=127.0.0.1 port=1 user=postgres dbname=mgmt")) {
            error in
            guard let error = error as? PostgresError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(error.kind, .connectionFailed)
            XCTAssertTrue(error.isTransient)
            XCTAssertTrue(error.description.contains("port 1"), error.description)
            XCTAssertFalse(error.description.contains("\n"), error.description)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testSilentServerFailsWithinTheDefaultConnectTimeout() throws {
        // A loopback port that accepts the connection and never answers: without a connect_timeout in the
        // conninfo, the default (2 s here) must end the wait.
        let listener = try SilentListener()
        let started = Date()
        XCTAssertThrowsError(
            try PostgresConnection(conninfo: "host=127.0.0.1 port=\(listener.port) user=mgmt_writer dbname=mgmt",
                                   defaultConnectTimeout: 2)
        ) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .connectionFailed, "\(error)")
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 1.5, "it failed before the timeout, so it did not test the timeout")
        XCTAssertLessThan(elapsed, 6)
    }

    func testWrongDatabaseName() throws {
        let info = try conninfo() + " dbname=no_such_database_mgmt"  // a later keyword overrides the earlier one
        XCTAssertThrowsError(try PostgresConnection(conninfo: info)) { error in
            guard let error = error as? PostgresError else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(error.kind, .connectionFailed)
            XCTAssertTrue(error.message.contains("no_such_database_mgmt"), error.message)
            XCTAssertTrue(error.message.contains("does not exist"), error.message)
        }
    }

    func testLostConnectionIsReportedAndResetReconnects() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        let admin = try PostgresConnection(conninfo: conninfo())
        let terminated = try admin.execute("SELECT pg_terminate_backend($1) AS ok", [Int(connection.backendProcessID)])
        XCTAssertEqual(try terminated.rows[0].bool("ok"), true)

        XCTAssertThrowsError(try connection.execute("SELECT 1", role: "probe")) { error in
            guard let error = error as? PostgresError else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue(error.isConnectionLost, "\(error)")
            XCTAssertEqual(error.role, "probe")
        }
        XCTAssertFalse(connection.isConnected)
        try connection.reset()
        XCTAssertTrue(connection.isConnected)
        XCTAssertEqual(try connection.execute("SELECT 41 + 1 AS v").rows[0].int("v"), 42)
    }

    func testNestedTransactionIsRefused() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        try connection.withTransaction { tx in
            XCTAssertThrowsError(try tx.withTransaction { _ in }) { error in
                XCTAssertEqual((error as? PostgresError)?.kind, .invalidUse)
            }
        }
    }

    func testCaughtStatementFailureInsideTransactionIsNotSilentlyRolledBack() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        let table = try makeTable(connection)
        XCTAssertThrowsError(
            try connection.withTransaction(role: "store results") { tx in
                try tx.execute("INSERT INTO \(table) (id) VALUES ($1)", ["first"])
                _ = try? tx.execute("INSERT INTO \(table) (id) VALUES ($1)", ["first"])  // unique violation, swallowed
            }
        ) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, SQLState.inFailedTransaction, "\(error)")
            XCTAssertEqual((error as? PostgresError)?.role, "store results: commit")
        }
        XCTAssertEqual(try connection.execute("SELECT count(*) AS c FROM \(table)").rows[0].int("c"), 0)
    }

    func testScriptRunsSeveralStatements() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        let table = try makeTable(connection)
        try connection.executeScript("""
            INSERT INTO \(table) (id, n) VALUES ('a', 1);
            INSERT INTO \(table) (id, n) VALUES ('b', 2);
            UPDATE \(table) SET n = n * 10;
            """, role: "migration 1")
        let sum = try connection.execute("SELECT sum(n)::int AS s FROM \(table)").rows[0].int("s")
        XCTAssertEqual(sum, 30)
        XCTAssertThrowsError(try connection.executeScript("SELECT 1; SELEC 2;", role: "migration 2")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState, "42601")  // syntax_error
            XCTAssertEqual((error as? PostgresError)?.role, "migration 2")
        }
    }

    func testThreadsSharingAConnectionTakeTurnsPerTransaction() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        let table = try makeTable(connection)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            do {
                try connection.withTransaction { tx in
                    for row in 0..<25 {
                        try tx.execute("INSERT INTO \(table) (id, n) VALUES ($1, $2)", ["w\(worker)-\(row)", worker])
                    }
                }
            } catch {
                XCTFail("worker \(worker): \(error)")
            }
        }
        let counts = try connection.execute("SELECT n, count(*)::int AS c FROM \(table) GROUP BY n ORDER BY n")
        XCTAssertEqual(try counts.rows.map { try $0.int("n") }, [0, 1, 2, 3])
        XCTAssertEqual(try counts.rows.map { try $0.int("c") }, [25, 25, 25, 25])
    }
}
