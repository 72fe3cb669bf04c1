import Foundation
import ResultsStore
import XCTest

/// Who may connect and what each role may do, against the real server of scripts/servers.sh: TCP logins need a
/// SCRAM password, the reader role cannot write, and settings that can never work fail before connecting.
final class PostgresAccessTests: XCTestCase {
    private struct TestAbort: Error {}

    private func conninfo(_ variable: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
            XCTFail("\(variable) is not set (run scripts/test.sh, or scripts/servers.sh start and source scripts/env.sh)")
            throw TestAbort()
        }
        return value
    }

    func testTCPLoginWithoutThePasswordIsRefused() throws {
        for (override, expected) in [("passfile=/dev/null", "no password supplied"),
                                     ("password=not-the-password", "password authentication failed")] {
            // Later keywords override earlier ones: the same login without its password file.
            XCTAssertThrowsError(try PostgresConnection(conninfo: conninfo("MGMT_PG_CONNINFO") + " passfile=/dev/null " + override)) {
                guard let error = $0 as? PostgresError else { return XCTFail("unexpected \($0)") }
                XCTAssertEqual(error.kind, .connectionFailed)
                XCTAssertTrue(error.message.contains(expected), error.message)
            }
        }
        for user in ["postgres", "root"] {  // the superuser has no TCP login
            XCTAssertThrowsError(try PostgresConnection(conninfo: conninfo("MGMT_PG_CONNINFO") + " user=\(user)"))
        }
    }

    func testReaderRoleReadsResultsButCannotChangeThem() throws {
        let writer = try PostgresConnection(conninfo: conninfo("MGMT_PG_CONNINFO"))
        let reader = try PostgresConnection(conninfo: conninfo("MGMT_PG_CONNINFO_READER"))
        let table = "access_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try writer.execute("CREATE TABLE public.\(table) (id text PRIMARY KEY, probability double precision)")
        addTeardownBlock { _ = try? writer.execute("DROP TABLE IF EXISTS public.\(table)") }
        try writer.execute("INSERT INTO public.\(table) VALUES ($1, $2)", ["00042", 0.25])

        let rows = try reader.execute("SELECT probability FROM public.\(table)")
        XCTAssertEqual(try rows.rows.map { try $0.double("probability") }, [0.25],
                       "the reader sees what the writer made (default privileges)")
        for statement in ["UPDATE public.\(table) SET probability = 0.999",
                          "INSERT INTO public.\(table) VALUES ('00043', 0.999)",
                          "DELETE FROM public.\(table)",
                          "CREATE TABLE public.\(table)_forged (id int)",
                          "CREATE SCHEMA \(table)_forged"] {
            XCTAssertThrowsError(try reader.execute(statement), statement) {
                XCTAssertEqual(($0 as? PostgresError)?.sqlState, "42501", "\(statement): \($0)")  // insufficient_privilege
            }
        }
        XCTAssertEqual(try writer.execute("SELECT probability FROM public.\(table)").rows.map { try $0.double("probability") },
                       [0.25], "nothing the reader tried changed the row")
    }

    func testSettingsThatCanNeverWorkFailBeforeConnecting() {
        let cases = [
            ("host=127.0.0.1 port=1 sslmode=verify-everything", "sslmode=verify-everything is not one of"),
            ("host=127.0.0.1 port=1 sslmode=verify-full sslrootcert=/nonexistent/ca.pem",
             "sslrootcert=/nonexistent/ca.pem: cannot read it"),
            ("host=127.0.0.1 port=1 sslcert=/nonexistent/client.pem", "sslcert=/nonexistent/client.pem"),
            ("host=127.0.0.1 port=1 passfile=/nonexistent/pgpass", "passfile=/nonexistent/pgpass"),
            ("host=127.0.0.1 port=1 no_such_keyword=1", "cannot parse the conninfo"),
        ]
        for (conninfo, expected) in cases {
            XCTAssertThrowsError(try PostgresConnection(conninfo: conninfo), conninfo) {
                guard let error = $0 as? PostgresError else { return XCTFail("unexpected \($0)") }
                XCTAssertEqual(error.kind, .invalidConfiguration, "\(conninfo): \(error)")
                XCTAssertFalse(error.isTransient)
                XCTAssertTrue(error.description.contains(expected), error.description)
                XCTAssertFalse(error.description.contains("\n"), error.description)
            }
        }
    }
}
