import Broker
import Foundation
import XCTest

/// Side-by-side throughput on the real broker (one run, so machine load affects both sides alike). Prints the
/// figures; asserts only what must hold on any machine: every message arrives, and a confirm window beats
/// waiting for each confirm.
final class BrokerThroughputTests: XCTestCase {
    func testConfirmWindowVersusOneAtATimeAndConsumeAckRate() throws {
        guard let text = ProcessInfo.processInfo.environment["MGMT_AMQP_URL"], !text.isEmpty else {
            return XCTFail("MGMT_AMQP_URL is not set")
        }
        let url = try AMQPURL(parsing: text)
        let count = 2000, singleCount = 500  // one-at-a-time is slow: fewer messages, same per-second figure
        let prefix = "bench-" + UUID().uuidString.prefix(8).lowercased()
        let topology = Topology(exchange: prefix + ".jobs", queues: [QueueSpec(name: prefix + ".q")])
        let queue = topology.queues[0].name
        let body = Data(repeating: UInt8(ascii: "x"), count: 64)
        let messages = (0..<count).map { OutgoingMessage(routingKey: queue, body: body, messageID: "m\($0)") }

        let windowed = try BrokerConnection(url: url, options: BrokerOptions(publishWindow: 256))
        defer { windowed.close() }
        try windowed.declare(topology)
        defer { try? windowed.delete(topology) }

        let windowStart = Date()
        try windowed.publish(messages, to: topology.exchange)
        let windowRate = Double(count) / Date().timeIntervalSince(windowStart)

        let singleStart = Date()
        for message in messages.prefix(singleCount) { try windowed.publish(message, to: topology.exchange) }
        let singleRate = Double(singleCount) / Date().timeIntervalSince(singleStart)
        let total = count + singleCount
        XCTAssertEqual(try windowed.messageCount(queue: queue), total)

        // Consume and ack through the owner thread: every ack is a request handed across threads.
        try windowed.startConsuming(queue: queue, prefetch: 50)
        let consumeStart = Date()
        for _ in 0..<total {
            let delivery = try XCTUnwrap(windowed.nextDelivery(timeout: 10))
            try windowed.ack(delivery)
        }
        let consumeRate = Double(total) / Date().timeIntervalSince(consumeStart)
        XCTAssertEqual(try windowed.messageCount(queue: queue), 0)

        print(String(format: "broker throughput (64-byte persistent messages, quorum queue): publish with a window "
                     + "of 256 confirms %.0f msg/s, one confirm at a time %.0f msg/s (ratio %.1f); consume with "
                     + "prefetch 50 + ack %.0f msg/s", windowRate, singleRate, windowRate / singleRate, consumeRate))
        XCTAssertGreaterThan(windowRate, 1.5 * singleRate)
    }
}
