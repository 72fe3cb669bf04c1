// Publish and consume rates of the Broker library against a real RabbitMQ (MGMT_AMQP_URL), side by side in one
// run so machine load affects every figure alike: a batch published with a confirm window, messages published
// one confirm at a time, and consume + ack. scripts/bench-broker.sh builds and runs it.
//   usage: BrokerBenchmark [MESSAGES (2000)] [WINDOW (256)]
import Broker
import Foundation

let arguments = CommandLine.arguments.dropFirst().map { Int($0) }
guard arguments.allSatisfy({ ($0 ?? 0) > 0 }) else {
    FileHandle.standardError.write(Data("usage: BrokerBenchmark [MESSAGES] [WINDOW] (positive integers)\n".utf8))
    exit(2)
}
let count = arguments.first.flatMap { $0 } ?? 2000
let window = arguments.dropFirst().first.flatMap { $0 } ?? 256
let singleCount = max(1, count / 4)  // one confirm at a time is slow: fewer messages, same per-second figure
guard let url = ProcessInfo.processInfo.environment["MGMT_AMQP_URL"], !url.isEmpty else {
    FileHandle.standardError.write(Data("BrokerBenchmark: MGMT_AMQP_URL is not set (source scripts/env.sh)\n".utf8))
    exit(2)
}

func rate(_ messages: Int, _ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(messages) * 1e9 / Double(DispatchTime.now().uptimeNanoseconds - start)
}

let prefix = "bench-" + UUID().uuidString.prefix(8).lowercased()
let topology = Topology(exchange: prefix + ".jobs", queues: [QueueSpec(name: prefix + ".q")])
let queue = topology.queues[0].name
let body = Data(repeating: UInt8(ascii: "x"), count: 64)
let messages = (0..<count).map { OutgoingMessage(routingKey: queue, body: body, messageID: "m\($0)") }

let connection = try BrokerConnection(url: url, options: BrokerOptions(publishWindow: window))
defer { connection.close() }
try connection.declare(topology)
defer { try? connection.delete(topology) }

let windowedRate = try rate(count) { try connection.publish(messages, to: topology.exchange) }
let singleRate = try rate(singleCount) {
    for message in messages.prefix(singleCount) { try connection.publish(message, to: topology.exchange) }
}
let total = count + singleCount
try connection.startConsuming(queue: queue, prefetch: 50)
let consumeRate = try rate(total) {
    for _ in 0..<total {
        guard let delivery = try connection.nextDelivery(timeout: 30) else {
            FileHandle.standardError.write(Data("BrokerBenchmark: a message did not arrive within 30 s\n".utf8))
            exit(1)
        }
        try connection.ack(delivery)
    }
}

func row(_ label: String, _ figure: String) {
    print(label.padding(toLength: 34, withPad: " ", startingAt: 0) + figure)
}
print("64-byte persistent messages, one quorum queue")
row("publish, window of \(window) confirms", String(format: "%10.0f msg/s  (%d messages)", windowedRate, count))
row("publish, one confirm at a time", String(format: "%10.0f msg/s  (%d messages)", singleRate, singleCount))
row("ratio window / one at a time", String(format: "%10.1f", windowedRate / singleRate))
row("consume, prefetch 50, ack each", String(format: "%10.0f msg/s  (%d messages)", consumeRate, total))
