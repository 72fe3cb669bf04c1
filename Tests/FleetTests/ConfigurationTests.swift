import Fleet
import XCTest

final class ConfigurationTests: XCTestCase {
    func testDefaults() throws {
        let configuration = try FleetConfiguration(environment: [:])
        XCTAssertNil(configuration.amqpURL)
        XCTAssertEqual(configuration.prefetch, 1)
        XCTAssertEqual(configuration.metricsPort, 9100)
        XCTAssertEqual(configuration.queues, QueueNames(studies: "studies", segment: "segment", classify: "classify", report: "report"))
        XCTAssertEqual(configuration.deliveryLimit, 5)
        XCTAssertEqual(QueueNames.deadLetter(of: "segment"), "segment.dead")
        XCTAssertThrowsError(try configuration.requireAMQPURL()) { error in
            XCTAssertEqual("\(error)", "configuration: MGMT_AMQP_URL is not set")
        }
    }

    func testBrokerSettingsThatCanNeverWorkAreRefusedAtStart() throws {
        let cases: [([String: String], String)] = [
            (["MGMT_AMQP_URL": "http://u:p@h/"], "configuration: MGMT_AMQP_URL: invalid AMQP URL: unknown scheme \"http\" (expected amqp or amqps)"),
            (["MGMT_AMQP_URL": "amqps://u:p@h/"], "configuration: MGMT_AMQP_URL: invalid AMQP TLS settings: amqps:// needs MGMT_AMQP_TLS_CA: the CA file (PEM) that signed the broker"),
            (["MGMT_AMQP_URL": "amqps://u:p@h/", "MGMT_AMQP_TLS_CA": "/nonexistent/ca.pem"],
             "configuration: MGMT_AMQP_URL: invalid AMQP TLS settings: MGMT_AMQP_TLS_CA=/nonexistent/ca.pem: cannot read it: No such file or directory"),
        ]
        for (environment, expected) in cases {
            let configuration = try FleetConfiguration(environment: environment)
            XCTAssertThrowsError(try configuration.requireAMQPURL(environment: environment)) { error in
                XCTAssertEqual("\(error)", expected)
            }
        }
    }

    func testAWorkerWithABrokerURLThatCanNeverWorkExitsAtOnceWithOneLine() throws {
        let ingest = FleetCluster.binDirectory.appendingPathComponent("ingest")
        var environment = ProcessInfo.processInfo.environment
        environment["MGMT_AMQP_URL"] = "amqps://u:p@127.0.0.1:1/%2f"
        environment["MGMT_AMQP_TLS_CA"] = "/nonexistent/ca.pem"
        environment["MGMT_METRICS_PORT"] = "off"
        let started = Date()
        let (status, output) = try runCapturingOutput(ingest, ["work"], environment: environment)
        XCTAssertNotEqual(status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "it must not retry")
        XCTAssertTrue(output.contains("MGMT_AMQP_TLS_CA=/nonexistent/ca.pem: cannot read it"), output)
    }

    func testValuesAndErrors() throws {
        let configuration = try FleetConfiguration(environment: [
            "MGMT_AMQP_URL": "amqp://u:p@h:1/%2f", "MGMT_PREFETCH": "4", "MGMT_METRICS_PORT": "off",
            "MGMT_QUEUE_SEGMENT": "seg-x", "MGMT_DELIVERY_LIMIT": "2", "MGMT_WATCH_QUIET": "0.5",
        ])
        XCTAssertEqual(try configuration.requireAMQPURL(), "amqp://u:p@h:1/%2f")
        XCTAssertEqual(configuration.prefetch, 4)
        XCTAssertNil(configuration.metricsPort)
        XCTAssertEqual(configuration.queues.segment, "seg-x")
        XCTAssertEqual(configuration.deliveryLimit, 2)
        XCTAssertEqual(configuration.watchQuietSeconds, 0.5)
        XCTAssertThrowsError(try FleetConfiguration(environment: ["MGMT_PREFETCH": "0"])) { error in
            XCTAssertEqual("\(error)", "configuration: MGMT_PREFETCH=0 is not an integer ≥ 1")
        }
        XCTAssertThrowsError(try FleetConfiguration(environment: ["MGMT_METRICS_PORT": "70000"]))
    }

    /// The offline commands read the configuration the fleet reads: a bad MGMT_THREADS is an error, not a default.
    func testOfflineCommandsRejectABadThreadCountAsTheFleetDoes() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["MGMT_THREADS"] = "zero"
        for executable in ["seg-worker", "cls-worker"] {
            let result = try runCapturingOutput(FleetCluster.binDirectory.appendingPathComponent(executable),
                                                ["run", FileManager.default.temporaryDirectory.path], environment: environment)
            XCTAssertNotEqual(result.status, 0, executable)
            XCTAssertTrue(result.output.contains("configuration: MGMT_THREADS=zero is not an integer ≥ 1"), result.output)
        }
    }
}
