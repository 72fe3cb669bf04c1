import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loopback TCP relay to the broker that a test can cut (both sockets closed, like a crashed broker or a
/// dropped route) or freeze (sockets open, nothing forwarded, like a silent network partition).
final class TCPRelay: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private(set) var port: Int = 0
    private let targetHost: String
    private let targetPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var frozen = false
    private var cutRequested = false
    private var stopped = false

    init(targetHost: String, targetPort: Int) throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 4) == 0 else {
            close(listener)
            throw Failure(description: "bind/listen: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func freeze() { setFlag { $0.frozen = true } }
    func cut() { setFlag { $0.cutRequested = true } }

    func stop() {
        setFlag { $0.stopped = true; $0.cutRequested = true }
        shutdown(listener, Int32(SHUT_RDWR))
    }

    private func setFlag(_ change: (TCPRelay) -> Void) {
        lock.lock()
        change(self)
        lock.unlock()
    }

    private var state: (frozen: Bool, cut: Bool, stopped: Bool) {
        lock.lock()
        defer { lock.unlock() }
        return (frozen, cutRequested, stopped)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while !state.stopped {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { break }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: UInt16(targetPort))
            address.sin_addr.s_addr = inet_addr(targetHost)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(server)
                continue
            }
            Thread.detachNewThread { [self] in pump(client, server) }
        }
        close(listener)
    }

    /// Copies bytes both ways until either side closes or the test cuts the relay.
    private func pump(_ client: Int32, _ server: Int32) {
        defer {
            close(client)
            close(server)
        }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let (frozen, cut, _) = state
            if cut { return }
            var descriptors = [pollfd(fd: client, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: server, events: Int16(POLLIN), revents: 0)]
            guard poll(&descriptors, 2, 50) >= 0 else { return }
            if frozen { continue }
            for (from, to) in [(0, server), (1, client)] where descriptors[from].revents != 0 {
                let count = read(descriptors[from].fd, &buffer, buffer.count)
                guard count > 0, send(to, buffer, count, Int32(MSG_NOSIGNAL)) == count else { return }
            }
        }
    }
}
