import Broker
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `amqps://` against a real RabbitMQ that listens with TLS only and demands a client certificate: a private
/// node started by scripts/servers.sh with a throw-away CA from scripts/test-ca.sh, on free loopback ports.
final class BrokerTLSTests: XCTestCase {
    private struct Node {
        let directory: URL
        let port: Int
        var environment: String { "MGMT_DATA_DIR=\(directory.path)/data MGMT_AMQP_PORT=\(port) MGMT_TLS_DIR=\(directory.path)/tls" }
        func file(_ name: String) -> String { directory.appendingPathComponent("tls/\(name)").path }
        var adminPassword: String {
            get throws {
                try String(contentsOfFile: directory.appendingPathComponent("data/secrets/amqp-mgmt-admin.password").path,
                           encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
    }

    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    nonisolated(unsafe) private static var node: Node?
    nonisolated(unsafe) private static var startFailure: String?

    private static func shell(_ command: String, log: URL) -> Bool {
        system("cd '\(repository.path)' && { \(command); } >>'\(log.path)' 2>&1") == 0
    }

    override class func setUp() {
        super.setUp()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-tls-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("servers.log")
        guard let port = freePortWithNeighbours() else {
            startFailure = "no free port P with P+10000 (epmd) and P+20000 (distribution) free"
            return
        }
        let candidate = Node(directory: directory, port: port)
        guard shell("scripts/test-ca.sh '\(directory.path)/tls'", log: log),
              shell("\(candidate.environment) scripts/servers.sh start-rabbitmq", log: log)
        else {
            startFailure = "cannot start the TLS broker: " + ((try? String(contentsOf: log, encoding: .utf8)) ?? "")
            return
        }
        node = candidate
    }

    override class func tearDown() {
        if let node {
            _ = shell("\(node.environment) scripts/servers.sh stop-rabbitmq", log: node.directory.appendingPathComponent("servers.log"))
            try? FileManager.default.removeItem(at: node.directory)
        }
        super.tearDown()
    }

    private func runningNode() throws -> Node {
        guard let node = Self.node else {
            XCTFail(Self.startFailure ?? "the TLS broker did not start")
            throw XCTSkip("no TLS broker")
        }
        return node
    }

    private func url(_ node: Node, host: String = "localhost") throws -> AMQPURL {
        AMQPURL(host: host, port: node.port, user: "mgmt-admin", password: try node.adminPassword, usesTLS: true)
    }

    private func clientTLS(_ node: Node, ca: String = "ca.pem", withCertificate: Bool = true) throws -> BrokerTLS {
        try BrokerTLS(caFile: node.file(ca), certificateFile: withCertificate ? node.file("client.pem") : nil,
                      keyFile: withCertificate ? node.file("client.key") : nil)
    }

    func testVerifiedTLSConnectionPublishesAndConsumes() throws {
        let node = try runningNode()
        let broker = try BrokerConnection(url: url(node), options: BrokerOptions(tls: clientTLS(node)))
        defer { broker.close() }
        let topology = Topology(exchange: "tls-test.x", queues: [QueueSpec(name: "tls-test.q")])
        try broker.declare(topology)
        try broker.publish(OutgoingMessage(routingKey: "tls-test.q", body: Data("{}".utf8), messageID: "over-tls"),
                           to: topology.exchange)
        let delivery = try XCTUnwrap(broker.get(queue: "tls-test.q"))
        XCTAssertEqual(delivery.messageID, "over-tls")
        try broker.ack(delivery)
        try broker.delete(topology)
    }

    func testTLSSettingsComeFromTheEnvironmentForAMQPS() throws {
        let node = try runningNode()
        let environment = [BrokerTLS.caVariable: node.file("ca.pem"), BrokerTLS.certificateVariable: node.file("client.pem"),
                           BrokerTLS.keyVariable: node.file("client.key")]
        let tls = try XCTUnwrap(BrokerTLS.forURL(url(node), environment: environment))
        let broker = try BrokerConnection(url: url(node), options: BrokerOptions(tls: tls))
        XCTAssertTrue(broker.isOpen)
        broker.close()
    }

    func testBrokerSignedByAnotherCAIsRefused() throws {
        let node = try runningNode()
        XCTAssertThrowsError(try BrokerConnection(url: url(node), options: BrokerOptions(tls: clientTLS(node, ca: "other-ca.pem")))) {
            guard case BrokerError.connectionFailed(_, let reason) = $0 else { return XCTFail("unexpected \($0)") }
            XCTAssertTrue(reason.contains("SSL peer cert verification failed"), reason)
        }
    }

    func testHostNameNotInTheCertificateIsRefused() throws {
        // The certificate names `localhost` only: reaching the same broker as 127.0.0.1 must fail verification.
        let node = try runningNode()
        XCTAssertThrowsError(try BrokerConnection(url: url(node, host: "127.0.0.1"), options: BrokerOptions(tls: clientTLS(node)))) {
            guard case BrokerError.connectionFailed(_, let reason) = $0 else { return XCTFail("unexpected \($0)") }
            XCTAssertTrue(reason.contains("SSL hostname verification failed"), reason)
        }
    }

    func testBrokerRefusesAClientWithoutCertificate() throws {
        let node = try runningNode()
        XCTAssertThrowsError(try BrokerConnection(url: url(node), options: BrokerOptions(tls: clientTLS(node, withCertificate: false))))
    }

    func testPlainAMQPToTheTLSListenerFails() throws {
        let node = try runningNode()
        var plain = try url(node)
        plain.usesTLS = false
        XCTAssertThrowsError(try BrokerConnection(url: plain, options: BrokerOptions(connectTimeout: 3)))
    }

    // MARK: - Settings that can never work fail before any connection attempt

    func testTLSSettingsThatCanNeverWorkFailWithOneLine() throws {
        let amqps = try AMQPURL(parsing: "amqps://u:p@localhost/%2f")
        let plain = try AMQPURL(parsing: "amqp://u:p@localhost/%2f")
        let existing = #filePath
        let cases: [(AMQPURL, [String: String], String)] = [
            (amqps, [:], "amqps:// needs MGMT_AMQP_TLS_CA"),
            (amqps, [BrokerTLS.caVariable: "/nonexistent/ca.pem"], "MGMT_AMQP_TLS_CA=/nonexistent/ca.pem: cannot read it"),
            (amqps, [BrokerTLS.caVariable: existing, BrokerTLS.certificateVariable: existing], "go together"),
            (amqps, [BrokerTLS.caVariable: existing, BrokerTLS.certificateVariable: existing,
                     BrokerTLS.keyVariable: "/nonexistent/client.key"], "MGMT_AMQP_TLS_KEY=/nonexistent/client.key"),
            (plain, [BrokerTLS.caVariable: existing], "use amqps://"),
        ]
        for (url, environment, expected) in cases {
            XCTAssertThrowsError(try BrokerTLS.forURL(url, environment: environment), expected) { error in
                guard case BrokerError.invalidTLS = error else { return XCTFail("\(expected): unexpected \(error)") }
                XCTAssertTrue((error as? BrokerError)?.isConfigurationError == true)
                XCTAssertTrue("\(error)".contains(expected), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            }
        }
    }

    func testAKeyThatIsNotPEMFailsBeforeConnecting() throws {
        let garbage = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-key-\(UUID().uuidString)")
        try Data("not a key".utf8).write(to: garbage)
        defer { try? FileManager.default.removeItem(at: garbage) }
        // Port 1 on loopback: if the key were not checked first, the error would be a refused connection.
        let tls = try BrokerTLS(caFile: #filePath, certificateFile: garbage.path, keyFile: garbage.path)
        XCTAssertThrowsError(try BrokerConnection(url: AMQPURL(host: "127.0.0.1", port: 1, user: "u", password: "p", usesTLS: true),
                                                  options: BrokerOptions(tls: tls))) { error in
            guard case BrokerError.invalidTLS = error else { return XCTFail("unexpected \(error)") }
        }
    }
}

/// A loopback port P such that P+10000 and P+20000 (the node's epmd and distribution ports, as servers.sh derives
/// them) are free too.
private func freePortWithNeighbours() -> Int? {
    func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
    for _ in 0..<200 {
        let port = Int.random(in: 20_000...25_000)
        if isFree(port) && isFree(port + 10_000) && isFree(port + 20_000) { return port }
    }
    return nil
}
