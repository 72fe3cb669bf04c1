import Foundation

/// Runs independent items (images or frame batches) on several threads, one workspace per thread.
public enum Parallel {
    /// Calls `body(item, workspace)` for every item in 0..<count on up to `threads` threads. While more than one
    /// thread runs, OpenBLAS is set to one thread per call (never nest threaded OpenBLAS in parallel loops);
    /// with one thread, sgemm gets all `threads`. Restores OpenBLAS's thread count afterwards.
    public static func forEach(count: Int, threads: Int, workspaces: [Workspace], _ body: @Sendable (Int, Workspace) -> Void) {
        let workers = max(1, min(threads, count, workspaces.count))
        let previous = BLAS.threadCount
        defer { BLAS.threadCount = previous }
        if workers == 1 {
            BLAS.threadCount = threads
            for item in 0..<count { body(item, workspaces[0]) }
            return
        }
        BLAS.threadCount = 1
        let next = NextItem()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            while let item = next.take(below: count) { body(item, workspaces[worker]) }
        }
    }

    /// The threads a call made inside `forEach` may use for its own work: all of them while a lone item runs, one
    /// while items run side by side (the OpenBLAS thread count `forEach` sets), so a small batch gets its threads
    /// inside its layers.
    public static var threadsForOneItem: Int { BLAS.threadCount }

    /// Work (floats passed over, or multiply-adds) below this runs on the calling thread: waking another costs
    /// more than it saves.
    static let smallestSplitWork = 1 << 15

    /// body(part) for the units 0..<count cut into up to `threads` contiguous parts, one thread each; on the
    /// calling thread alone when `threads` is 1 or the work (count · unitWork) is small.
    public static func split(_ count: Int, unitWork: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let parts = max(1, min(threads, count, count * unitWork / smallestSplitWork))
        run(workers: parts) { part in body((part * count / parts)..<((part + 1) * count / parts)) }
    }

    /// body(worker) for workers 0..<workers, each on a thread of its own; on the calling thread when there is one.
    static func run(workers: Int, _ body: @Sendable (Int) -> Void) {
        if workers == 1 {
            body(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: body)
        }
    }

    private final class NextItem: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func take(below limit: Int) -> Int? {
            lock.lock()
            defer { lock.unlock() }
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}

/// A pointer handed to `Parallel.forEach`'s threads, which write disjoint parts of the memory behind it.
public struct SendablePointer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

/// A value (a pointer to weights or offsets) handed to a call's threads, which only read through it.
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
