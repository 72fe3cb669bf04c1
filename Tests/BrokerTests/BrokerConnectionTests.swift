import Broker
import Foundation
import XCTest

/// Against the real broker named by MGMT_AMQP_URL. Every test declares its own uniquely named topology and
/// deletes it at the end, so tests can share the server with other users.
final class BrokerConnectionTests: XCTestCase {
    private struct TestAbort: Error {}

    private func brokerURL() throws -> AMQPURL {
        guard let text = ProcessInfo.processInfo.environment["MGMT_AMQP_URL"], !text.isEmpty else {
            XCTFail("MGMT_AMQP_URL is not set (run scripts/test.sh, or scripts/servers.sh start and source scripts/env.sh)")
            throw TestAbort()
        }
        return try AMQPURL(parsing: text)
    }

    private func connect(_ options: BrokerOptions = BrokerOptions()) throws -> BrokerConnection {
        let connection = try BrokerConnection(url: brokerURL(), options: options)
        addTeardownBlock { connection.close() }
        return connection
    }

    /// A topology with unique names, deleted (through its own connection) when the test ends.
    private func makeTopology(queues: [String], deliveryLimit: Int = 5) throws -> Topology {
        let prefix = "test-" + UUID().uuidString.prefix(8).lowercased()
        let topology = Topology(exchange: prefix + ".jobs",
                                queues: queues.map { QueueSpec(name: "\(prefix).\($0)", deliveryLimit: deliveryLimit) })
        let admin = try BrokerConnection(url: brokerURL())
        try admin.declare(topology)
        addTeardownBlock {
            do { try admin.delete(topology) } catch { XCTFail("cleanup: \(error)") }
            admin.close()
        }
        return topology
    }

    private func jsonMessage(_ index: Int, routingKey: String) -> OutgoingMessage {
        OutgoingMessage(routingKey: routingKey, body: Data("{\"schema\":1,\"index\":\(index)}".utf8),
                        messageID: "job-\(index)", headers: ["stage": "test"])
    }

    /// Waits until `queue` holds `count` ready messages (dead-lettering is asynchronous), at most 10 s.
    private func waitForCount(_ count: Int, in queue: String, on connection: BrokerConnection) throws -> Int {
        let deadline = Date().addingTimeInterval(10)
        var current = try connection.messageCount(queue: queue)
        while current != count && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            current = try connection.messageCount(queue: queue)
        }
        return current
    }

    func testPublishConsumeRoundTripWithConfirmsAndManualAck() throws {
        let topology = try makeTopology(queues: ["in", "out"])
        let input = topology.queues[0].name, output = topology.queues[1].name
        // A window smaller than the batch makes publish wait for confirms (including multiple-acks) mid-batch.
        let broker = try connect(BrokerOptions(publishWindow: 16))
        try broker.publish((0..<100).map { jsonMessage($0, routingKey: input) }, to: topology.exchange)
        XCTAssertEqual(try broker.messageCount(queue: input), 100)

        // The worker pattern: consume, publish the next job (confirmed), then ack.
        try broker.startConsuming(queue: input, prefetch: 10)
        var lastDelivery: Delivery?
        for index in 0..<100 {
            let delivery = try XCTUnwrap(broker.nextDelivery(timeout: 10), "delivery \(index)")
            XCTAssertEqual(String(decoding: delivery.body, as: UTF8.self), "{\"schema\":1,\"index\":\(index)}")
            XCTAssertEqual(delivery.messageID, "job-\(index)")
            XCTAssertEqual(delivery.contentType, "application/json")
            XCTAssertEqual(delivery.headers["stage"], "test")
            XCTAssertEqual(delivery.queue, input)
            XCTAssertEqual(delivery.routingKey, input)
            XCTAssertFalse(delivery.redelivered)
            try broker.publish(jsonMessage(index, routingKey: output), to: topology.exchange)
            try broker.ack(delivery)
            lastDelivery = delivery
        }
        XCTAssertNil(try broker.nextDelivery(timeout: 0.2))
        broker.close()
        XCTAssertEqual(broker.failure, .closed)

        // Acks took effect: after the consumer's connection is gone nothing came back to the input queue.
        let checker = try connect()
        XCTAssertThrowsError(try checker.ack(XCTUnwrap(lastDelivery))) { error in
            XCTAssertEqual(error as? BrokerError, .staleDelivery)  // a tag means nothing on another connection
        }
        XCTAssertEqual(try checker.messageCount(queue: input), 0)
        XCTAssertEqual(try checker.messageCount(queue: output), 100)
        let first = try XCTUnwrap(checker.get(queue: output))
        XCTAssertEqual(first.messageID, "job-0")
        try checker.ack(first)
        XCTAssertEqual(try checker.purge(queue: output), 99)
    }

    func testUnroutablePublishIsAnErrorNotASilentLoss() throws {
        let topology = try makeTopology(queues: ["work"])
        let broker = try connect()
        XCTAssertThrowsError(
            try broker.publish([jsonMessage(1, routingKey: "no-such-key")], to: topology.exchange)
        ) { error in
            guard case let BrokerError.unroutable(ids, exchange, routingKey, reason) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(ids, ["job-1"])
            XCTAssertEqual(exchange, topology.exchange)
            XCTAssertEqual(routingKey, "no-such-key")
            XCTAssertTrue(reason.contains("NO_ROUTE"), reason)
        }
        // Not fatal: the same connection publishes a routable message afterwards.
        try broker.publish(jsonMessage(2, routingKey: topology.queues[0].name), to: topology.exchange)
        XCTAssertEqual(try broker.messageCount(queue: topology.queues[0].name), 1)
    }

    func testRejectedMessageReachesTheDeadLetterQueue() throws {
        let topology = try makeTopology(queues: ["work"])
        let queue = topology.queues[0]
        let broker = try connect()
        try broker.publish(jsonMessage(7, routingKey: queue.name), to: topology.exchange)
        try broker.startConsuming(queue: queue.name, prefetch: 1)
        let delivery = try XCTUnwrap(broker.nextDelivery(timeout: 10))
        try broker.reject(delivery, requeue: false)

        XCTAssertEqual(try waitForCount(1, in: queue.deadLetterQueue, on: broker), 1)
        XCTAssertEqual(try broker.messageCount(queue: queue.name), 0)
        let dead = try XCTUnwrap(broker.get(queue: queue.deadLetterQueue))
        XCTAssertEqual(dead.messageID, "job-7")
        XCTAssertEqual(dead.body, delivery.body)
        XCTAssertEqual(dead.headers["x-first-death-reason"], "rejected")
        XCTAssertEqual(dead.headers["x-first-death-queue"], queue.name)
        try broker.ack(dead)
    }

    func testGracefulStopFinishesTheCurrentJobAndReturnsThePrefetchedOnes() throws {
        let topology = try makeTopology(queues: ["work"])
        let queue = topology.queues[0].name
        let broker = try connect()
        try broker.publish((0..<3).map { jsonMessage($0, routingKey: queue) }, to: topology.exchange)
        try broker.startConsuming(queue: queue, prefetch: 3)
        let current = try XCTUnwrap(broker.nextDelivery(timeout: 10))
        // SIGTERM: stop consuming, finish and ack the current job, close; the prefetched rest goes back.
        try broker.stopConsuming()
        try broker.ack(current)
        broker.close()
        XCTAssertThrowsError(try broker.nextDelivery(timeout: 1)) { error in
            XCTAssertEqual(error as? BrokerError, .closed)
        }
        let checker = try connect()
        XCTAssertEqual(try waitForCount(2, in: queue, on: checker), 2)
        let next = try XCTUnwrap(checker.get(queue: queue))
        XCTAssertEqual(next.messageID, "job-1")
        XCTAssertTrue(next.redelivered)
        try checker.reject(next, requeue: true)
    }

    func testNackMultipleDeadLettersEveryEarlierDelivery() throws {
        let topology = try makeTopology(queues: ["batch"])
        let queue = topology.queues[0]
        let broker = try connect()
        try broker.publish((0..<3).map { jsonMessage($0, routingKey: queue.name) }, to: topology.exchange)
        try broker.startConsuming(queue: queue.name, prefetch: 3)
        var deliveries: [Delivery] = []
        for _ in 0..<3 { deliveries.append(try XCTUnwrap(broker.nextDelivery(timeout: 10))) }
        try broker.nack(deliveries[2], multiple: true, requeue: false)
        XCTAssertEqual(try waitForCount(3, in: queue.deadLetterQueue, on: broker), 3)
        XCTAssertNil(try broker.nextDelivery(timeout: 0.2))
    }

    func testMessageRequeuedPastTheDeliveryLimitEndsInTheDeadLetterQueue() throws {
        let limit = 2
        let topology = try makeTopology(queues: ["flaky"], deliveryLimit: limit)
        let queue = topology.queues[0]
        let broker = try connect()
        try broker.publish(jsonMessage(3, routingKey: queue.name), to: topology.exchange)
        try broker.startConsuming(queue: queue.name, prefetch: 1)
        var deliveries: [Delivery] = []
        while let delivery = try broker.nextDelivery(timeout: 2) {
            deliveries.append(delivery)
            try broker.reject(delivery, requeue: true)
            if deliveries.count > 10 { break }
        }
        // Delivered once, then redelivered `limit` times; the next requeue exceeds the limit.
        XCTAssertEqual(deliveries.count, limit + 1)
        XCTAssertEqual(deliveries.map(\.redelivered), [false] + Array(repeating: true, count: limit))
        XCTAssertEqual(deliveries.map(\.deliveryCount), [nil] + (1...limit).map { $0 })
        XCTAssertEqual(try waitForCount(1, in: queue.deadLetterQueue, on: broker), 1)
        let dead = try XCTUnwrap(broker.get(queue: queue.deadLetterQueue))
        XCTAssertEqual(dead.messageID, "job-3")
        XCTAssertEqual(dead.headers["x-first-death-reason"], "delivery_limit")
        try broker.ack(dead)
    }

    func testHandlerLongerThanTwoHeartbeatsKeepsTheConnectionAndAcks() throws {
        let topology = try makeTopology(queues: ["slow"])
        let queue = topology.queues[0].name
        let broker = try connect(BrokerOptions(heartbeat: 2))
        try broker.publish(jsonMessage(1, routingKey: queue), to: topology.exchange)
        try broker.startConsuming(queue: queue, prefetch: 1)
        let delivery = try XCTUnwrap(broker.nextDelivery(timeout: 10))
        Thread.sleep(forTimeInterval: 6)  // the "model" runs on this thread for three heartbeat intervals
        XCTAssertNil(broker.failure)
        try broker.ack(delivery)
        try broker.publish(jsonMessage(2, routingKey: queue), to: topology.exchange)  // still fully usable
        let next = try XCTUnwrap(broker.nextDelivery(timeout: 10))
        XCTAssertEqual(next.messageID, "job-2")
        XCTAssertFalse(next.redelivered, "the first delivery's ack must not have been lost with a connection")
        try broker.ack(next)
        broker.close()
        XCTAssertEqual(try connect().messageCount(queue: queue), 0)
    }

    func testWrongPasswordFailsClearlyWithinBoundedTime() throws {
        var url = try brokerURL()
        url.password = "definitely-wrong-password"
        let started = Date()
        XCTAssertThrowsError(try BrokerConnection(url: url, options: BrokerOptions(connectTimeout: 5))) { error in
            guard case BrokerError.authenticationFailed = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue("\(error)".contains("ACCESS_REFUSED"), "\(error)")
            XCTAssertFalse("\(error)".contains("definitely-wrong-password"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 8)
    }

    func testUnreachablePortFailsClearlyWithinBoundedTime() throws {
        var url = try brokerURL()
        url.port = 1
        let started = Date()
        XCTAssertThrowsError(try BrokerConnection(url: url, options: BrokerOptions(connectTimeout: 2))) { error in
            guard case BrokerError.connectionFailed(let endpoint, _) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(endpoint, "\(url.host):1")
            XCTAssertEqual((error as? BrokerError)?.isTransient, true)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 4)
    }

    func testServerThatIsNotRabbitMQFailsTheHandshakeClearly() throws {
        // A listening socket that never speaks AMQP: the relay to a port nobody answers on the far side is
        // closed at once, so the handshake sees the connection close.
        let relay = try TCPRelay(targetHost: "127.0.0.1", targetPort: 1)
        addTeardownBlock { relay.stop() }
        let started = Date()
        XCTAssertThrowsError(try BrokerConnection(url: AMQPURL(host: "127.0.0.1", port: relay.port, user: "u", password: "p"),
                                                  options: BrokerOptions(connectTimeout: 3))) { error in
            guard case BrokerError.connectionFailed(_, let reason) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertTrue(reason.hasPrefix("AMQP handshake: "), reason)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testSilentServerFailsWithinTheConnectTimeout() throws {
        // A peer that accepts the TCP connection and then never answers (a frozen relay on loopback): the AMQP
        // handshake must give up after the connect timeout instead of hanging.
        let url = try brokerURL()
        let relay = try TCPRelay(targetHost: url.host, targetPort: url.port)
        addTeardownBlock { relay.stop() }
        relay.freeze()
        var silent = url
        silent.port = relay.port
        let started = Date()
        XCTAssertThrowsError(try BrokerConnection(url: silent, options: BrokerOptions(connectTimeout: 2))) { error in
            guard case BrokerError.connectionFailed(let endpoint, let reason) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(endpoint, "\(url.host):\(relay.port)")
            XCTAssertTrue(reason.hasPrefix("AMQP handshake: "), reason)
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 1.5, "it failed before the timeout, so it did not test the timeout")
        XCTAssertLessThan(elapsed, 4)
    }

    func testDeclareIsIdempotentAndConflictsAreClearAndNotFatal() throws {
        let topology = try makeTopology(queues: ["a", "b"])
        let broker = try connect()
        try broker.declare(topology)  // the same again: no error
        var conflicting = topology
        conflicting.queues[0].deliveryLimit = 9
        XCTAssertThrowsError(try broker.declare(conflicting)) { error in
            guard case BrokerError.operationFailed(_, let code, let text) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(code, 406)
            XCTAssertTrue(text.contains("PRECONDITION_FAILED"), text)
        }
        XCTAssertThrowsError(try broker.messageCount(queue: topology.queues[0].name + ".missing")) { error in
            guard case BrokerError.operationFailed(_, let code, _) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertEqual(code, 404)
        }
        XCTAssertNil(broker.failure)
        XCTAssertEqual(try broker.messageCount(queue: topology.queues[1].name), 0)
    }

    func testClosedChannelAndCancelledConsumerRequireReconnect() throws {
        let topology = try makeTopology(queues: ["work"])
        let queue = topology.queues[0].name

        let publisher = try connect()
        XCTAssertThrowsError(try publisher.publish(jsonMessage(1, routingKey: queue), to: "no-such-exchange")) {
            error in
            guard case BrokerError.channelClosed(let code, _) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual(code, 404)
            XCTAssertTrue((error as? BrokerError)?.requiresReconnect == true)
        }
        XCTAssertEqual(publisher.failure?.requiresReconnect, true)
        XCTAssertThrowsError(try publisher.messageCount(queue: queue))  // every later call reports the failure

        let consumer = try connect()
        try consumer.startConsuming(queue: queue, prefetch: 1)
        let admin = try connect()
        try admin.deleteQueue(queue)
        XCTAssertThrowsError(try consumer.nextDelivery(timeout: 10)) { error in
            XCTAssertEqual(error as? BrokerError, .consumerCancelled(queue: queue))
        }
        try admin.declare(topology)  // for the teardown's delete
    }

    /// A connection through a relay the test controls, to break the network under a live connection.
    private func connectThroughRelay(_ options: BrokerOptions) throws -> (BrokerConnection, TCPRelay) {
        let url = try brokerURL()
        let relay = try TCPRelay(targetHost: url.host, targetPort: url.port)
        addTeardownBlock { relay.stop() }
        var relayed = url
        relayed.port = relay.port
        let connection = try BrokerConnection(url: relayed, options: options)
        addTeardownBlock { connection.close() }
        return (connection, relay)
    }

    func testDroppedConnectionIsReportedAsConnectionLost() throws {
        let topology = try makeTopology(queues: ["work"])
        let (broker, relay) = try connectThroughRelay(BrokerOptions())
        try broker.startConsuming(queue: topology.queues[0].name, prefetch: 1)
        relay.cut()
        let started = Date()
        XCTAssertThrowsError(try broker.nextDelivery(timeout: 10)) { error in
            guard case BrokerError.connectionLost = error else { return XCTFail("unexpected \(error)") }
            XCTAssertEqual((error as? BrokerError)?.requiresReconnect, true)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
        // Every later call reports the same loss instead of hanging.
        XCTAssertThrowsError(try broker.publish(jsonMessage(1, routingKey: topology.queues[0].name),
                                                to: topology.exchange)) { error in
            XCTAssertEqual(error as? BrokerError, broker.failure)
        }
    }

    func testConcurrentCallersAllSeeTheLossInsteadOfHanging() throws {
        final class Outcomes: @unchecked Sendable {
            private let lock = NSLock()
            private(set) var errors: [Error] = []
            func append(_ error: Error) { lock.lock(); errors.append(error); lock.unlock() }
        }
        let topology = try makeTopology(queues: ["work"])
        let (broker, relay) = try connectThroughRelay(BrokerOptions())
        let message = jsonMessage(1, routingKey: topology.queues[0].name)
        let exchange = topology.exchange
        let outcomes = Outcomes()
        let group = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: group) {
                do {
                    while true { try broker.publish(message, to: exchange) }
                } catch {
                    outcomes.append(error)
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.3)
        relay.cut()
        XCTAssertEqual(group.wait(timeout: .now() + 10), .success, "a caller is still blocked")
        XCTAssertEqual(outcomes.errors.count, 4)
        for error in outcomes.errors {
            guard case BrokerError.connectionLost = error else { return XCTFail("unexpected \(error)") }
        }
    }

    func testSilentNetworkIsDetectedByMissedHeartbeats() throws {
        let topology = try makeTopology(queues: ["work"])
        let (broker, relay) = try connectThroughRelay(BrokerOptions(heartbeat: 1))
        try broker.startConsuming(queue: topology.queues[0].name, prefetch: 1)
        relay.freeze()
        let started = Date()
        XCTAssertThrowsError(try broker.nextDelivery(timeout: 20)) { error in
            guard case BrokerError.connectionLost(let reason) = error else { return XCTFail("unexpected \(error)") }
            XCTAssertTrue(reason.contains("heartbeat"), reason)
        }
        // rabbitmq-c gives up after two silent heartbeat intervals.
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }
}
