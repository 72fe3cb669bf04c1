import Foundation
import Inference

#if canImport(Glibc)
import Glibc
#endif

/// Throughput of the UNet++ model on seeded weights (or any loaded model), batch × 224², as `seg-worker bench`
/// and scripts/bench-seg.sh report it.
public struct SegmentationBenchmark: Sendable {
    /// Multiply-adds × 2 of one 224×224 slice (PLATFORM-NOTES).
    public static let gflopPerSlice = 84.5

    public struct Result: Codable, Sendable {
        public var engine = "swift"
        public var threads: Int
        public var batch: Int
        public var batches: Int
        public var slicesPerSecond: Double
        public var gflops: Double
        public var peakMemoryMB: Double
        public var blasCore: String
        /// Milliseconds per layer kind of one more batch (`UNetPlusPlus.LayerKind`), when asked for.
        public var profileMilliseconds: [String: Double]?

        enum CodingKeys: String, CodingKey {
            case engine, threads, batch, batches, gflops
            case profileMilliseconds = "profile_ms"
            case slicesPerSecond = "slices_per_second"
            case peakMemoryMB = "peak_memory_mb"
            case blasCore = "blas_core"
        }
    }

    public let model: UNetPlusPlus

    public init(model: UNetPlusPlus) { self.model = model }

    /// One warm-up batch, then `batches` timed batches of `batch` seeded 224×224 images; with `profile`, one more
    /// batch timed layer kind by layer kind (apart, so that the clock reads do not touch the timings).
    public func run(threads: Int, batch: Int, batches: Int, profile: Bool = false) throws -> Result {
        let size = SegmentationStage.inputSize
        let input = try Tensor(shape: [batch, 3, size, size],
                               storage: SeededWeights.uniform(key: "bench.input", count: batch * 3 * size * size,
                                                              low: -2, high: 2, baseSeed: 1))
        let workspaces = (0..<max(1, threads)).map { _ in Workspace() }
        _ = try model.predict(input, threads: threads, workspaces: workspaces)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<batches { _ = try model.predict(input, threads: threads, workspaces: workspaces) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let slicesPerSecond = Double(batch * batches) / seconds
        var result = Result(threads: threads, batch: batch, batches: batches, slicesPerSecond: slicesPerSecond,
                            gflops: slicesPerSecond * Self.gflopPerSlice, peakMemoryMB: Self.peakMemoryMB(),
                            blasCore: BLAS.coreName)
        if profile {
            var profiled = model
            let layers = LayerProfile()
            profiled.profile = layers
            _ = try profiled.predict(input, threads: threads, workspaces: workspaces)
            result.profileMilliseconds = Dictionary(uniqueKeysWithValues: layers.milliseconds.map { ($0.kind, $0.milliseconds) })
        }
        return result
    }

    /// Peak resident memory of this process (getrusage ru_maxrss, kilobytes on Linux).
    public static func peakMemoryMB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
