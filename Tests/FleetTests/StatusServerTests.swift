import Fleet
import Foundation
import Logging
import XCTest

final class StatusServerTests: XCTestCase {
    func testMetricsAndHealthOverHTTP() throws {
        let metrics = FleetMetrics(stage: "status-test")
        metrics.started()
        metrics.finished(outcome: .done, seconds: 0.3)
        metrics.started()
        let healthy = LockedFlag(true)
        let server = try StatusServer(port: 0, health: { healthy.value ? nil : "broker disconnected" },
                                      logger: Logger(label: "test"))
        defer { server.stop() }
        XCTAssertGreaterThan(server.port, 0)

        let (metricsStatus, metricsBody) = try httpGet(port: server.port, path: "/metrics")
        XCTAssertEqual(metricsStatus, 200)
        XCTAssertTrue(metricsBody.contains(#"mgmt_jobs_total{stage="status-test",outcome="done"} 1"#), metricsBody)
        XCTAssertTrue(metricsBody.contains(#"mgmt_jobs_in_flight{stage="status-test"} 1"#), metricsBody)
        XCTAssertTrue(metricsBody.contains(#"mgmt_stage_seconds_bucket{stage="status-test",le="0.5"} 1"#), metricsBody)
        XCTAssertTrue(metricsBody.contains(#"mgmt_stage_seconds_bucket{stage="status-test",le="0.1"} 0"#), metricsBody)

        XCTAssertEqual(try httpGet(port: server.port, path: "/healthz").status, 200)
        healthy.value = false
        let (status, body) = try httpGet(port: server.port, path: "/healthz")
        XCTAssertEqual(status, 503)
        XCTAssertEqual(body, "broker disconnected\n")
        XCTAssertEqual(try httpGet(port: server.port, path: "/nope").status, 404)
        // A client that connects and says nothing must not block the next scrape for long.
        let silent = try connect(port: server.port)
        defer { close(silent) }
        XCTAssertEqual(try httpGet(port: server.port, path: "/healthz").status, 503)
    }
}

final class StatusServerLoadTests: XCTestCase {
    /// 32 clients that connect and say nothing and 32 that drip a request one byte at a time: `/healthz` still
    /// answers within 1 s, and the whole-request deadline closes every slow connection, dripping or not.
    func testHealthAnswersWithinASecondWhileSixtyFourSlowClientsAreConnected() throws {
        let server = try StatusServer(port: 0, requestDeadlineSeconds: 2, health: { nil }, logger: Logger(label: "test"))
        defer { server.stop() }
        let idle = try (0..<32).map { _ in try connect(port: server.port) }
        let dripping = try (0..<32).map { _ in try connect(port: server.port) }
        defer { (idle + dripping).forEach { close($0) } }
        let request = Array("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: ".utf8) + [UInt8](repeating: 97, count: 200)
        let dripStopped = DispatchSemaphore(value: 0)
        let drip = Thread {
            defer { dripStopped.signal() }
            for byte in request where !Thread.current.isCancelled {
                for client in dripping { _ = withUnsafeBytes(of: byte) { send(client, $0.baseAddress, 1, Int32(MSG_NOSIGNAL)) } }
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
        drip.start()
        // Stop dripping before the sockets close (defers run last-first): once closed, their descriptor numbers are
        // reused by later tests' connections, which the thread would otherwise write stray bytes into.
        defer {
            drip.cancel()
            dripStopped.wait()
        }
        let started = Date()
        while Date().timeIntervalSince(started) < 1.5 {
            let asked = Date()
            XCTAssertEqual(try httpGet(port: server.port, path: "/healthz").status, 200)
            XCTAssertLessThan(Date().timeIntervalSince(asked), 1.0, "/healthz answered within 1 s")
        }
        // Past the 2 s deadline (with slack for a loaded machine) every slow client has been disconnected.
        Thread.sleep(forTimeInterval: max(0, 4 - Date().timeIntervalSince(started)))
        for client in idle + dripping {
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var byte: UInt8 = 0
            XCTAssertLessThanOrEqual(recv(client, &byte, 1, 0), 0, "the server closed the slow connection")
        }
    }

    /// By default the server listens on loopback only (/proc/net/tcp shows the listening socket's address).
    func testListensOnLoopbackByDefault() throws {
        let configuration = try FleetConfiguration(environment: [:])
        XCTAssertEqual(configuration.metricsBindAddress, "127.0.0.1")
        let server = try StatusServer(address: configuration.metricsBindAddress, port: 0, health: { nil },
                                      logger: Logger(label: "test"))
        defer { server.stop() }
        let listening = try String(contentsOfFile: "/proc/net/tcp", encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: " ") }
            .filter { $0.count > 3 && $0[3] == "0A" && $0[1].hasSuffix(String(format: ":%04X", server.port)) }
        XCTAssertEqual(listening.map { String($0[1]) }, [String(format: "0100007F:%04X", server.port)])
        XCTAssertThrowsError(try StatusServer(address: "127.0.0.1", port: server.port, health: { nil },
                                              logger: Logger(label: "test"))) { error in
            XCTAssertTrue("\(error)".hasPrefix("status server: cannot listen on 127.0.0.1:\(server.port)"), "\(error)")
        }
    }
}

final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Bool
    init(_ value: Bool) { stored = value }
    var value: Bool {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

struct HTTPTestError: Error { let detail: String }

func connect(port: Int) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard result == 0 else { close(descriptor); throw HTTPTestError(detail: "connect failed: \(errno)") }
    return descriptor
}

/// A minimal HTTP GET with a blocking socket (the server closes after the response): the status code and the body.
func httpGet(port: Int, path: String) throws -> (status: Int, body: String) {
    let descriptor = try connect(port: port)
    defer { close(descriptor) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
    var response = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = recv(descriptor, &chunk, chunk.count, 0)
        if count <= 0 { break }
        response += chunk[0..<count]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let headerEnd = text.range(of: "\r\n\r\n"), let code = Int(text.split(separator: " ").dropFirst().first ?? "")
    else { throw HTTPTestError(detail: "bad response: \(text)") }
    return (code, String(text[headerEnd.upperBound...]))
}
