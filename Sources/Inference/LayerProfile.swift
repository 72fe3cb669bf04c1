import Foundation

/// Wall time per layer kind over forward passes, for the per-layer table of the benchmarks (`--profile`). A model
/// holds none by default; with one, each timed section costs two clock reads. Threads may record concurrently:
/// their times add up (shares stay meaningful, the sum exceeds the wall time).
public final class LayerProfile: @unchecked Sendable {
    private let lock = NSLock()
    private var nanoseconds: [String: UInt64] = [:]

    public init() {}

    /// Runs `body` and adds its duration to `kind`.
    @inline(__always)
    public func measure<T>(_ kind: String, _ body: () throws -> T) rethrows -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            lock.lock()
            nanoseconds[kind, default: 0] += elapsed
            lock.unlock()
        }
        return try body()
    }

    /// Milliseconds per kind, largest first.
    public var milliseconds: [(kind: String, milliseconds: Double)] {
        lock.lock()
        defer { lock.unlock() }
        return nanoseconds.map { ($0.key, Double($0.value) / 1e6) }.sorted { $0.1 > $1.1 }
    }

    public func reset() {
        lock.lock()
        nanoseconds = [:]
        lock.unlock()
    }
}

extension Optional where Wrapped == LayerProfile {
    /// `body`, timed under `kind` when a profile is attached.
    @inline(__always)
    public func measure<T>(_ kind: String, _ body: () throws -> T) rethrows -> T {
        switch self {
        case .some(let profile): try profile.measure(kind, body)
        case .none: try body()
        }
    }
}
