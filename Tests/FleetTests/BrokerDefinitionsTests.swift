import Broker
import Fleet
import Foundation
import XCTest

/// The broker definitions (scripts/rabbitmq-definitions.py) carry the topology the workers expect, because no role
/// may declare it: on a fresh broker a worker only checks it. A topology missing from the definitions deadlocks a
/// fresh install (every worker retries "does not exist yet"), so the two are compared here, for the default names
/// and for configured ones.
final class BrokerDefinitionsTests: XCTestCase {
    private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private struct Definitions: Decodable {
        struct Exchange: Decodable { var name: String; var type: String; var durable: Bool }
        struct Queue: Decodable {
            var name: String
            var durable: Bool
            var arguments: [String: Argument]
        }
        struct Binding: Decodable { var source: String; var destination: String; var routing_key: String }
        struct Permission: Decodable { var user: String; var configure: String }
        var exchanges: [Exchange]
        var queues: [Queue]
        var bindings: [Binding]
        var permissions: [Permission]
    }

    private enum Argument: Decodable, Equatable {
        case text(String), number(Int)
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int.self) { self = .number(number) } else {
                self = .text(try container.decode(String.self))
            }
        }
    }

    private func definitions(environment: [String: String]) throws -> Definitions {
        let secrets = FileManager.default.temporaryDirectory.appendingPathComponent("definitions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: secrets) }
        for user in ["admin", "enqueue", "ingest", "segment", "classify", "classify3d", "report", "deliver"] {
            try "not-a-secret".write(to: secrets.appendingPathComponent("amqp-mgmt-\(user).password"),
                                     atomically: true, encoding: .utf8)
        }
        let (status, output) = try runCapturingOutput(
            URL(fileURLWithPath: "/usr/bin/python3"),
            [repositoryRoot.appendingPathComponent("scripts/rabbitmq-definitions.py").path, secrets.path],
            environment: environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a })
        XCTAssertEqual(status, 0, output)
        return try JSONDecoder().decode(Definitions.self, from: Data(output.utf8))
    }

    private func assertDefinitionsHoldTheWorkersTopology(_ environment: [String: String]) throws {
        let configuration = try FleetConfiguration(environment: environment.merging(["MGMT_AMQP_URL": "amqp://u:p@127.0.0.1"]) { a, _ in a })
        let topology = try WorkerOptions(configuration: configuration).topology
        let defined = try definitions(environment: environment)

        let exchanges = Dictionary(uniqueKeysWithValues: defined.exchanges.map { ($0.name, $0) })
        XCTAssertEqual(exchanges[topology.exchange]?.type, "topic")
        XCTAssertEqual(exchanges[topology.deadLetterExchange]?.type, "direct")
        XCTAssertTrue(defined.exchanges.allSatisfy(\.durable))

        let queues = Dictionary(uniqueKeysWithValues: defined.queues.map { ($0.name, $0) })
        XCTAssertEqual(Set(queues.keys), Set(topology.queues.flatMap { [$0.name, $0.deadLetterQueue] }))
        for queue in topology.queues {
            XCTAssertEqual(queues[queue.name]?.arguments, [
                "x-queue-type": .text("quorum"), "x-dead-letter-exchange": .text(topology.deadLetterExchange),
                "x-dead-letter-routing-key": .text(queue.name), "x-delivery-limit": .number(queue.deliveryLimit),
            ], queue.name)
            XCTAssertEqual(queues[queue.deadLetterQueue]?.arguments, ["x-queue-type": .text("quorum")])
            let keys = defined.bindings.filter { $0.source == topology.exchange && $0.destination == queue.name }
                .map(\.routing_key)
            XCTAssertEqual(Set(keys), Set(queue.routingKeys), queue.name)
            XCTAssertTrue(defined.bindings.contains {
                $0.source == topology.deadLetterExchange && $0.destination == queue.deadLetterQueue
                    && $0.routing_key == queue.name
            }, queue.deadLetterQueue)
        }
        XCTAssertTrue(queues.values.allSatisfy(\.durable))
        // Only the operator's user configures: the roles find the topology.
        for permission in defined.permissions where permission.user != "mgmt-admin" {
            XCTAssertEqual(permission.configure, "^$", permission.user)
        }
    }

    func testDefinitionsHoldTheTopologyTheWorkersCheckAtStart() throws {
        try assertDefinitionsHoldTheWorkersTopology([:])
    }

    func testDefinitionsFollowConfiguredNamesAndDeliveryLimit() throws {
        try assertDefinitionsHoldTheWorkersTopology([
            "MGMT_EXCHANGE": "site.x", "MGMT_QUEUE_STUDIES": "site.studies", "MGMT_QUEUE_REPORT": "site.report",
            "MGMT_QUEUE_DELIVER": "site.deliver", "MGMT_QUEUE_CLASSIFY3D": "site.c3d", "MGMT_DELIVERY_LIMIT": "7",
        ])
    }
}
