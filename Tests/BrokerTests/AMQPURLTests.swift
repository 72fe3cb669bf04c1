import Broker
import XCTest

final class AMQPURLTests: XCTestCase {
    func testFullURLWithEncodedDefaultVirtualHost() throws {
        let url = try AMQPURL(parsing: "amqp://worker:s%40cret@rabbit.local:5673/%2f")
        XCTAssertEqual(url, AMQPURL(host: "rabbit.local", port: 5673, user: "worker", password: "s@cret",
                                    virtualHost: "/"))
        XCTAssertEqual(url.description, "amqp://worker@rabbit.local:5673/%2f")
    }

    func testDefaultsAndNamedVirtualHost() throws {
        XCTAssertEqual(try AMQPURL(parsing: "amqp://u:p@"), AMQPURL(host: "localhost", user: "u", password: "p"))
        XCTAssertEqual(try AMQPURL(parsing: "amqp://u@example.org"),
                       AMQPURL(host: "example.org", user: "u", password: ""))
        XCTAssertEqual(try AMQPURL(parsing: "AMQP://u:p@h/fleet").virtualHost, "fleet")
        XCTAssertEqual(try AMQPURL(parsing: "amqp://u:p@[::1]:5999/v"),
                       AMQPURL(host: "::1", port: 5999, user: "u", password: "p", virtualHost: "v"))
    }

    func testAMQPSMeansTLSOnPort5671() throws {
        let url = try AMQPURL(parsing: "amqps://worker:secret@broker.example/%2f")
        XCTAssertTrue(url.usesTLS)
        XCTAssertEqual(url.port, 5671)
        XCTAssertEqual(url.description, "amqps://worker@broker.example:5671/%2f")
        XCTAssertFalse(try AMQPURL(parsing: "amqp://w:s@h").usesTLS)
    }

    func testMalformedURLsGiveClearErrors() {
        let cases: [(String, String)] = [
            ("guest:guest@127.0.0.1:5672", "expected amqp://"),
            ("http://127.0.0.1:5672/", "unknown scheme \"http\" (expected amqp or amqps)"),
            ("amqp://127.0.0.1/", "no user"),
            ("amqp://", "no user"),
            ("amqp://u:p@127.0.0.1:notaport/%2f", "port \"notaport\""),
            ("amqp://u:p@127.0.0.1:70000/", "port \"70000\""),
            ("amqp://u:p@127.0.0.1/a/b", "one path segment"),
            ("amqp://u:p@127.0.0.1/%zz", "bad percent-escape in the vhost"),
            ("amqp://u:p@127.0.0.1/?heartbeat=5", "query parameters are not supported"),
            ("amqp://u:p@a:b:5672/", "malformed host"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try AMQPURL(parsing: text), text) { error in
                guard case BrokerError.invalidURL = error else { return XCTFail("\(text): unexpected \(error)") }
                XCTAssertTrue("\(error)".contains(expected), "\(text): \(error)")
                XCTAssertTrue("\(error)".hasPrefix("invalid AMQP URL: "), "\(error)")
            }
        }
    }

    func testMalformedURLFailsBeforeConnecting() {
        XCTAssertThrowsError(try BrokerConnection(url: "amqp://u:p@127.0.0.1:notaport/%2f")) { error in
            guard case BrokerError.invalidURL = error else { return XCTFail("unexpected \(error)") }
        }
    }
}
