import Broker
import Foundation
import XCTest

/// Many messages through one connection, published with a confirm window and one confirm at a time: every
/// publish is confirmed, every message arrives once, intact and in publish order. (How fast is a benchmark's
/// question, not a test's: scripts/bench-broker.sh.)
final class BrokerBulkPublishTests: XCTestCase {
    func testWindowedAndSingleConfirmedPublishesAllArriveInOrder() throws {
        guard let text = ProcessInfo.processInfo.environment["MGMT_AMQP_URL"], !text.isEmpty else {
            return XCTFail("MGMT_AMQP_URL is not set")
        }
        let url = try AMQPURL(parsing: text)
        let windowedCount = 600, singleCount = 50
        let prefix = "test-" + UUID().uuidString.prefix(8).lowercased()
        let topology = Topology(exchange: prefix + ".jobs", queues: [QueueSpec(name: prefix + ".q")])
        let queue = topology.queues[0].name
        let messages = (0..<(windowedCount + singleCount)).map {
            OutgoingMessage(routingKey: queue, body: Data("message \($0)".utf8), messageID: "m\($0)")
        }

        // The topology lives on its own connection: deleting a queue cancels its consumers, and the consumer's
        // connection then has to be discarded.
        let admin = try BrokerConnection(url: url)
        defer { admin.close() }
        try admin.declare(topology)
        defer { XCTAssertNoThrow(try admin.delete(topology)) }
        // A window far smaller than the batch, so publishing must wait for confirms and refill the window.
        let connection = try BrokerConnection(url: url, options: BrokerOptions(publishWindow: 16))
        defer { connection.close() }

        // `publish` returns only once the broker confirmed every message (it throws on a nack, a return or a
        // confirm timeout), so a confirmed message is already in the queue when it returns.
        try connection.publish(Array(messages.prefix(windowedCount)), to: topology.exchange)
        XCTAssertEqual(try connection.messageCount(queue: queue), windowedCount)
        for (published, message) in messages.dropFirst(windowedCount).enumerated() {
            try connection.publish(message, to: topology.exchange)
            XCTAssertEqual(try connection.messageCount(queue: queue), windowedCount + published + 1)
        }

        try connection.startConsuming(queue: queue, prefetch: 50)
        for expected in messages {
            let delivery = try XCTUnwrap(connection.nextDelivery(timeout: 10), "\(expected.messageID) never arrived")
            XCTAssertEqual(delivery.messageID, expected.messageID)
            XCTAssertEqual(delivery.body, expected.body)
            XCTAssertFalse(delivery.redelivered)
            try connection.ack(delivery)
        }
        XCTAssertNil(try connection.nextDelivery(timeout: 0.5), "a message arrived twice")
        XCTAssertEqual(try connection.messageCount(queue: queue), 0)
    }
}
