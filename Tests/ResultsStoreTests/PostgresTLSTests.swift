import Foundation
import ResultsStore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `sslmode=verify-full` against a real PostgreSQL that accepts TLS connections only: a private server started
/// by scripts/servers.sh with a throw-away CA from scripts/test-ca.sh, on a free loopback port.
final class PostgresTLSTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    private static let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("mgmt-pgtls-\(UUID().uuidString.prefix(8))")
    nonisolated(unsafe) private static var port = 0
    nonisolated(unsafe) private static var startFailure: String?

    private static var environment: String {
        "MGMT_DATA_DIR=\(directory.path)/data MGMT_PG_PORT=\(port) MGMT_TLS_DIR=\(directory.path)/tls"
    }

    private static func shell(_ command: String) -> Bool {
        let log = directory.appendingPathComponent("servers.log").path
        return system("cd '\(repository.path)' && { \(command); } >>'\(log)' 2>&1") == 0
    }

    override class func setUp() {
        super.setUp()
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = (try? SilentListener().port) ?? 0  // a port the kernel just handed out, free again once closed
        guard shell("scripts/test-ca.sh '\(directory.path)/tls'"), shell("\(environment) scripts/servers.sh start-postgres")
        else {
            startFailure = "cannot start the TLS PostgreSQL: "
                + ((try? String(contentsOf: directory.appendingPathComponent("servers.log"), encoding: .utf8)) ?? "")
            return
        }
    }

    override class func tearDown() {
        _ = shell("\(environment) scripts/servers.sh stop-postgres")
        try? FileManager.default.removeItem(at: directory)
        super.tearDown()
    }

    private func conninfo(host: String = "localhost", ca: String = "ca.pem", sslmode: String = "verify-full") throws -> String {
        if let failure = Self.startFailure {
            XCTFail(failure)
            throw XCTSkip("no TLS PostgreSQL")
        }
        let path = Self.directory.path
        return "host=\(host) port=\(Self.port) user=mgmt_writer dbname=mgmt passfile=\(path)/data/secrets/pgpass "
            + "sslmode=\(sslmode) sslrootcert=\(path)/tls/\(ca) connect_timeout=5"
    }

    func testVerifyFullConnectsOverTLS() throws {
        let connection = try PostgresConnection(conninfo: conninfo())
        let result = try connection.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        XCTAssertEqual(try result.rows.map { try $0.bool("ssl") }, [true])
    }

    func testServerSignedByAnotherCAIsRefused() throws {
        XCTAssertThrowsError(try PostgresConnection(conninfo: conninfo(ca: "other-ca.pem"))) {
            XCTAssertTrue("\($0)".contains("certificate verify failed"), "\($0)")
        }
    }

    func testHostNameNotInTheCertificateIsRefused() throws {
        XCTAssertThrowsError(try PostgresConnection(conninfo: conninfo(host: "127.0.0.1"))) {
            XCTAssertTrue("\($0)".contains("does not match host name"), "\($0)")
        }
    }

    func testPlainConnectionsAreRefused() throws {
        XCTAssertThrowsError(try PostgresConnection(conninfo: conninfo(sslmode: "disable"))) {
            XCTAssertTrue("\($0)".contains("no pg_hba.conf entry"), "\($0)")
        }
    }
}
