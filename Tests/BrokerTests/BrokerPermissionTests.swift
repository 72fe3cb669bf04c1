import Broker
import Foundation
import XCTest

/// The broker users of scripts/servers.sh against the real broker: each role may publish only where its stage
/// sends and consume only what its stage reads, and the refusals are RabbitMQ's own (403 ACCESS_REFUSED).
/// Uses the fleet's configured topology (MGMT_EXCHANGE, MGMT_QUEUE_*), which the permissions are written for.
final class BrokerPermissionTests: XCTestCase {
    private struct TestAbort: Error {}

    private enum Role: String, CaseIterable {
        case enqueue, ingest, segment, classify, classify3d, report, deliver
    }

    /// The routing keys each role may publish with (a worker's own queue: the graceful-stop hand-back; status
    /// events under the stage's own report key), and the queues it may consume.
    private static let publishes: [Role: Set<String>] = [
        .enqueue: ["studies"], .ingest: ["studies", "segment", "classify3d", "report.ingest"],
        .segment: ["segment", "classify", "report.segment"], .classify: ["classify", "report.classify"],
        .classify3d: ["classify3d", "report.classify3d"], .report: ["deliver"], .deliver: ["deliver", "report.deliver"],
    ]
    private static let consumes: [Role: Set<String>] = [
        .enqueue: [], .ingest: ["studies"], .segment: ["segment"], .classify: ["classify"], .classify3d: ["classify3d"],
        .report: ["report", "studies.dead", "segment.dead", "classify.dead", "report.dead", "classify3d.dead", "deliver.dead"],
        .deliver: ["deliver"],
    ]

    private let environment = ProcessInfo.processInfo.environment
    private lazy var queueNames: [String: String] = Dictionary(uniqueKeysWithValues:
        ["studies", "segment", "classify", "report", "classify3d", "deliver"].map { ($0, environment["MGMT_QUEUE_\($0.uppercased())"] ?? $0) })
    /// Routing key (as named in `publishes`) → (the configured key, the queue it reaches).
    private lazy var routes: [String: (key: String, queue: String)] = {
        var routes: [String: (key: String, queue: String)] = [:]
        for name in ["studies", "segment", "classify", "classify3d", "deliver"] { routes[name] = (queueNames[name] ?? name, queueNames[name] ?? name) }
        let report = queueNames["report"] ?? "report"
        for stage in ["ingest", "segment", "classify", "classify3d", "deliver"] { routes["report.\(stage)"] = ("\(report).\(stage)", report) }
        return routes
    }()
    private lazy var topology = Topology(
        exchange: environment["MGMT_EXCHANGE"].flatMap { $0.isEmpty ? nil : $0 } ?? "mgmt",
        queues: ["studies", "segment", "classify", "report", "classify3d", "deliver"].map { name in
            let queue = queueNames[name] ?? name
            return QueueSpec(name: queue, routingKeys: routes.values.filter { $0.queue == queue }.map(\.key).sorted())
        })

    private func url(_ variable: String) throws -> AMQPURL {
        guard let text = environment[variable], !text.isEmpty else {
            XCTFail("\(variable) is not set (run scripts/test.sh, or scripts/servers.sh start and source scripts/env.sh)")
            throw TestAbort()
        }
        return try AMQPURL(parsing: text)
    }

    private func connect(_ role: Role) throws -> BrokerConnection {
        let connection = try BrokerConnection(url: url("MGMT_AMQP_URL_\(role.rawValue.uppercased())"))
        addTeardownBlock { connection.close() }
        return connection
    }

    /// The admin connection, with the topology declared (as a worker would at start), on idle queues only.
    /// These tests publish into the fleet's real queues and read them back. Every message they read and put back
    /// counts against its delivery limit, so on servers that hold pending work (a demo's left-over jobs) a few runs
    /// dead-lettered it. A running worker would also take their forged messages. So they skip unless every real queue
    /// and dead-letter queue is empty and unread.
    private func admin() throws -> BrokerConnection {
        let connection = try BrokerConnection(url: url("MGMT_AMQP_URL"))
        addTeardownBlock { connection.close() }
        try connection.declare(topology)
        let busy = try topology.queues.flatMap { [$0.name, $0.deadLetterQueue] }.compactMap { queue -> String? in
            let status = try connection.status(of: queue)
            return status == QueueStatus(ready: 0, consumers: 0) ? nil : "\(queue) (\(status.ready) ready, \(status.consumers) consumers)"
        }
        if !busy.isEmpty {
            throw XCTSkip("the fleet's queues are in use: \(busy.joined(separator: ", ")). These tests read the real queues and put back what is not theirs, which counts against each message's delivery limit; run them once that work is done or purged (the demo and the tests share the servers' data under .local/)")
        }
        return connection
    }

    /// Takes the message `id` out of `queue` (acknowledged); false if it is not there.
    private func remove(_ id: String, from queue: String, on admin: BrokerConnection) throws -> Bool {
        var others: [Delivery] = []
        defer { others.forEach { try? admin.reject($0, requeue: true) } }
        while let delivery = try admin.get(queue: queue) {
            if delivery.messageID == id {
                try admin.ack(delivery)
                return true
            }
            others.append(delivery)
        }
        return false
    }

    /// The unsettled delivery of message `id` from `queue`, waiting up to 10 s (dead-lettering is asynchronous);
    /// other messages go back to the queue.
    private func take(_ id: String, from queue: String, on admin: BrokerConnection) throws -> Delivery? {
        var others: [Delivery] = []
        defer { others.forEach { try? admin.reject($0, requeue: true) } }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            guard let delivery = try admin.get(queue: queue) else {
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            if delivery.messageID == id { return delivery }
            others.append(delivery)
        }
        return nil
    }

    private func assertRefused(_ error: any Error, _ context: String, file: StaticString = #filePath,
                               line: UInt = #line) {
        switch error {
        case BrokerError.channelClosed(let code, let text), BrokerError.operationFailed(_, let code, let text):
            XCTAssertEqual(code, 403, "\(context): \(error)", file: file, line: line)
            XCTAssertTrue(text.contains("ACCESS_REFUSED"), "\(context): \(text)", file: file, line: line)
        default:
            XCTFail("\(context): expected the broker's 403 ACCESS_REFUSED, got \(error)", file: file, line: line)
        }
    }

    func testGuestAccountIsGone() throws {
        let base = try url("MGMT_AMQP_URL")
        let guest = AMQPURL(host: base.host, port: base.port, user: "guest", password: "guest")
        XCTAssertThrowsError(try BrokerConnection(url: guest)) { error in
            guard case BrokerError.authenticationFailed = error else { return XCTFail("unexpected \(error)") }
        }
    }

    func testEachRolePublishesOnlyWhereItsStageSends() throws {
        let admin = try admin()
        for role in Role.allCases {
            for (key, route) in routes.sorted(by: { $0.key < $1.key }) {
                let queue = route.queue
                let id = "permission-test-\(role)-\(key)-\(UUID().uuidString.prefix(8))"
                let message = OutgoingMessage(routingKey: route.key, body: Data("{\"forged\":true}".utf8), messageID: id)
                let broker = try connect(role)
                try broker.declare(topology)  // a role without configure permission finds the topology existing
                let allowed = Self.publishes[role]?.contains(key) ?? false
                do {
                    try broker.publish(message, to: topology.exchange)
                    XCTAssertTrue(allowed, "\(role) published to \(key)")
                } catch {
                    XCTAssertFalse(allowed, "\(role) could not publish to \(key): \(error)")
                    assertRefused(error, "\(role) → \(key)")
                }
                broker.close()
                XCTAssertEqual(try remove(id, from: queue, on: admin), allowed,
                               "\(role) → \(key): the message is in the queue exactly when the role may send it")
            }
        }
    }

    /// Issue 14: a forged `classified` event from a compromised ingest worker. Its user may send status events
    /// only under its own report key; the broker refuses the classifier's key (403, the channel closes).
    func testOnlyTheClassifierRoleMayPublishUnderTheClassifierReportKey() throws {
        let admin = try admin()
        let classifierKey = try XCTUnwrap(routes["report.classify"]), ingestKey = try XCTUnwrap(routes["report.ingest"])
        let forged = "forged-classified-\(UUID().uuidString.prefix(8))"
        let ingest = try connect(.ingest)
        XCTAssertThrowsError(try ingest.publish(OutgoingMessage(
            routingKey: classifierKey.key, body: Data("{\"status\":\"classified\"}".utf8), messageID: forged),
                                                to: topology.exchange)) { assertRefused($0, "ingest → report.classify") }
        ingest.close()
        XCTAssertFalse(try remove(forged, from: classifierKey.queue, on: admin), "the forged event never reached report")

        let own = "own-key-\(UUID().uuidString.prefix(8))"
        let again = try connect(.ingest)
        try again.publish(OutgoingMessage(routingKey: ingestKey.key, body: Data("{\"status\":\"ingested\"}".utf8),
                                          messageID: own), to: topology.exchange)
        XCTAssertTrue(try remove(own, from: ingestKey.queue, on: admin), "ingest's own report key reaches report")
        let classify = try connect(.classify)
        try classify.publish(OutgoingMessage(routingKey: classifierKey.key, body: Data("{}".utf8), messageID: forged),
                             to: topology.exchange)
        XCTAssertTrue(try remove(forged, from: classifierKey.queue, on: admin))
    }

    /// The dead-letter exchange re-keys a dead letter with its queue's name; the key it was published with comes
    /// back from RabbitMQ's x-death, so the reporter can still say which role sent it.
    func testDeadLetterKeepsTheKeyItWasPublishedWith() throws {
        let admin = try admin()
        let route = try XCTUnwrap(routes["report.segment"])
        let id = "dead-letter-key-\(UUID().uuidString.prefix(8))"
        let segment = try connect(.segment)
        try segment.publish(OutgoingMessage(routingKey: route.key, body: Data("{}".utf8), messageID: id),
                            to: topology.exchange)
        let live = try XCTUnwrap(try take(id, from: route.queue, on: admin), "the message reached \(route.queue)")
        XCTAssertEqual(live.routingKey, route.key)
        XCTAssertNil(live.firstDeathRoutingKey)
        try admin.reject(live, requeue: false)
        let deadQueue = route.queue + ".dead"
        let letter = try XCTUnwrap(try take(id, from: deadQueue, on: admin), "the message was dead-lettered to \(deadQueue)")
        try admin.ack(letter)
        XCTAssertEqual(letter.routingKey, route.queue, "the dead-letter exchange re-keys with the queue's name")
        XCTAssertEqual(letter.firstDeathRoutingKey, route.key)
    }

    func testEachRoleConsumesOnlyItsStagesQueues() throws {
        _ = try admin()
        let all = queueNames.values.flatMap { [$0, $0 + ".dead"] }.sorted()
        for role in Role.allCases {
            for queue in all {
                let broker = try connect(role)
                let name = queue.hasSuffix(".dead") ? queue : queueNames.first { $0.value == queue }?.key ?? queue
                let allowed = Self.consumes[role]?.contains(name) ?? false
                do {
                    try broker.startConsuming(queue: queue, prefetch: 1)
                    XCTAssertTrue(allowed, "\(role) consumes \(queue)")
                } catch {
                    XCTAssertFalse(allowed, "\(role) could not consume \(queue): \(error)")
                    assertRefused(error, "\(role) consuming \(queue)")
                }
                broker.close()  // anything delivered goes back to its queue
            }
        }
    }

    func testScannerSideUserCannotChangeTheTopology() throws {
        _ = try admin()
        let enqueue = try connect(.enqueue)
        XCTAssertThrowsError(try enqueue.deleteQueue(topology.queues[0].name)) { assertRefused($0, "delete queue") }
        XCTAssertThrowsError(try enqueue.purge(queue: topology.queues[0].name)) { assertRefused($0, "purge queue") }
        XCTAssertThrowsError(try enqueue.deleteExchange(topology.exchange)) { assertRefused($0, "delete exchange") }
        XCTAssertNoThrow(try enqueue.messageCount(queue: topology.queues[0].name), "the connection stays usable")
    }

    func testBrokerRefusesOversizedMessages() throws {
        // servers.sh caps messages at 4 MiB: a 30 MB study path is refused before any worker reads it.
        let admin = try admin()
        let studies = try XCTUnwrap(queueNames["studies"])
        let path = String(repeating: "../etc/", count: 30 * 1024 * 1024 / 7)
        let id = "oversized-\(UUID().uuidString.prefix(8))"
        let enqueue = try connect(.enqueue)
        XCTAssertThrowsError(try enqueue.publish(OutgoingMessage(
            routingKey: studies, body: Data("{\"study_path\":\"\(path)\"}".utf8), messageID: id), to: topology.exchange)) {
            guard case BrokerError.channelClosed(let code, let text) = $0 else { return XCTFail("unexpected \($0)") }
            XCTAssertEqual(code, 406, text)
            XCTAssertTrue(text.contains("larger than configured max size"), text)
        }
        XCTAssertFalse(try remove(id, from: studies, on: admin))
    }

    func testUserWithoutConfigurePermissionGetsAClearErrorWhenTheTopologyIsMissing() throws {
        let enqueue = try connect(.enqueue)
        let missing = Topology(exchange: topology.exchange, queues: [QueueSpec(name: "permission-test-missing")])
        XCTAssertThrowsError(try enqueue.declare(missing)) { error in
            assertRefused(error, "declare a missing queue")
            XCTAssertTrue("\(error)".contains("does not exist yet"), "\(error)")
        }
    }
}
