import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

public enum StatusServerError: Error, CustomStringConvertible {
    case socket(String, Int32)

    public var description: String {
        switch self {
        case .socket(let step, let code): return "status server: \(step) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// A small HTTP/1.0 listener for `/metrics` (Prometheus text) and `/healthz`. One thread serves one short
/// request at a time with a read timeout, so a slow or broken client can delay a scrape but never a job.
public final class StatusServer: @unchecked Sendable {
    /// Answers `/healthz`: nil when healthy, else the reason (served as 503).
    public typealias HealthCheck = @Sendable () -> String?

    public private(set) var port: Int = 0
    private let listener: Int32
    private let health: HealthCheck
    private let logger: Logger
    private let stopLock = NSLock()
    private var stopped = false
    private var thread: Thread?

    /// Binds 0.0.0.0:`port` (0: any free port, see `port`) and starts serving.
    public init(port requested: Int, health: @escaping HealthCheck, logger: Logger) throws(StatusServerError) {
        self.health = health
        self.logger = logger
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw .socket("socket", errno) }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(requested).bigEndian)
        address.sin_addr = in_addr(s_addr: INADDR_ANY)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else {
            let code = errno
            close(listener)
            throw .socket("bind/listen on port \(requested)", code)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in serve() }
        thread.name = "status-server"
        self.thread = thread
        thread.start()
    }

    public func stop() {
        stopLock.withLock { stopped = true }
    }

    private var isStopped: Bool { stopLock.withLock { stopped } }

    private func serve() {
        defer { close(listener) }
        while !isStopped {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            respond(on: client)
            close(client)
        }
    }

    private func respond(on client: Int32) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1024)
        // Only the request line matters; stop at the end of the headers or at 8 KiB.
        while request.count < 8192, !request.ends(with: Array("\r\n\r\n".utf8)), !request.ends(with: [10, 10]) {
            let count = recv(client, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            request += chunk[0..<count]
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let (status, type, body): (String, String, String)
        if parts.count < 2 || (parts[0] != "GET" && parts[0] != "HEAD") {
            (status, type, body) = ("400 Bad Request", "text/plain", "only GET /metrics and GET /healthz\n")
        } else {
            switch parts[1].split(separator: "?").first.map(String.init) ?? "" {
            case "/metrics":
                (status, type, body) = ("200 OK", "text/plain; version=0.0.4", FleetMetrics.prometheusText())
            case "/healthz":
                if let problem = health() {
                    (status, type, body) = ("503 Service Unavailable", "text/plain", problem + "\n")
                } else {
                    (status, type, body) = ("200 OK", "text/plain", "ok\n")
                }
            default:
                (status, type, body) = ("404 Not Found", "text/plain", "not found\n")
            }
        }
        let payload = Array(body.utf8)
        let head = "HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
        let response = Array(head.utf8) + (parts.first == "HEAD" ? [] : payload)
        var offset = 0
        while offset < response.count {
            let sent = response[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else {
                logger.debug("status server: client went away", metadata: ["errno": "\(errno)"])
                return
            }
            offset += sent
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}
