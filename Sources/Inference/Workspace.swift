import Foundation

/// A view of one image's feature planes, [channels, height, width] contiguous, in memory owned elsewhere
/// (an `Arena`, a `Scratch`, or a tensor's storage).
public struct FeatureMap {
    public let data: UnsafeMutablePointer<Float>
    public let channels: Int
    public let height: Int
    public let width: Int

    public init(data: UnsafeMutablePointer<Float>, channels: Int, height: Int, width: Int) {
        self.data = data
        self.channels = channels
        self.height = height
        self.width = width
    }

    public var planeSize: Int { height * width }
    public var count: Int { channels * height * width }
    public func channel(_ c: Int) -> UnsafeMutablePointer<Float> { data + c * planeSize }
}

/// Bump allocator for the feature maps of one forward pass: `reset()` frees everything at once. After the
/// first pass it holds one block large enough for a whole pass, so later passes do not allocate.
public final class Arena {
    private var blocks: [UnsafeMutableBufferPointer<Float>] = []
    private var used = 0  // floats used in the last block
    private var total = 0  // floats handed out since reset

    public init() {}
    deinit { blocks.forEach { $0.deallocate() } }

    /// `count` floats, 64-byte aligned, valid until `reset()`.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        let rounded = (count + 15) & ~15
        total += rounded
        if let last = blocks.last, used + rounded <= last.count {
            defer { used += rounded }
            return last.baseAddress! + used
        }
        let block = UnsafeMutableBufferPointer<Float>(
            start: UnsafeMutableRawPointer.allocate(byteCount: max(rounded, 1 << 20) * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: max(rounded, 1 << 20)),
            count: max(rounded, 1 << 20))
        blocks.append(block)
        used = rounded
        return block.baseAddress!
    }

    public func featureMap(channels: Int, height: Int, width: Int) -> FeatureMap {
        FeatureMap(data: floats(channels * height * width), channels: channels, height: height, width: width)
    }

    /// Frees every allocation; merges the blocks into one sized for the largest pass so far.
    public func reset() {
        if blocks.count > 1 {
            blocks.forEach { $0.deallocate() }
            let size = total
            blocks = [UnsafeMutableBufferPointer(
                start: UnsafeMutableRawPointer.allocate(byteCount: size * 4, alignment: 64).bindMemory(to: Float.self, capacity: size),
                count: size)]
        }
        used = 0
        total = 0
    }
}

/// The memory one thread needs to run a model: an arena for feature maps that live across layers and a few
/// scratch slots for short-lived buffers (slot 0 is the convolutions' im2col space). One thread at a time.
public final class Workspace: @unchecked Sendable {
    public let arena = Arena()
    private var slots: [Scratch] = []

    public init() {}

    public func scratch(_ slot: Int) -> Scratch {
        while slots.count <= slot { slots.append(Scratch()) }
        return slots[slot]
    }
}

/// Runs independent items (images of a batch) on several threads, one workspace per thread.
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

/// Where a model's parameters come from: a safetensors state_dict, seeded values, or a key recorder.
public protocol WeightSource: AnyObject {
    /// The tensor `key` of `shape`; `isNorm` marks a batch norm's parameters (seeded sources need it).
    func tensor(_ key: String, shape: [Int], isNorm: Bool) throws -> Tensor
    /// A key that must exist but whose value the engine ignores (num_batches_tracked).
    func require(_ key: String, shape: [Int]) throws
}

extension WeightSource {
    /// PyTorch BatchNorm2d parameters under `prefix` (weight, bias, running_mean, running_var, num_batches_tracked).
    public func batchNorm(_ prefix: String, channels: Int, eps: Double = 1e-5) throws -> BatchNorm {
        let weight = try tensor("\(prefix).weight", shape: [channels], isNorm: true)
        let bias = try tensor("\(prefix).bias", shape: [channels], isNorm: true)
        let mean = try tensor("\(prefix).running_mean", shape: [channels], isNorm: true)
        let variance = try tensor("\(prefix).running_var", shape: [channels], isNorm: true)
        try require("\(prefix).num_batches_tracked", shape: [])
        return try BatchNorm(weight: weight.storage, bias: bias.storage, runningMean: mean.storage,
                             runningVar: variance.storage, eps: eps)
    }
}

extension StateDictReader: WeightSource {
    public func tensor(_ key: String, shape: [Int], isNorm: Bool) throws -> Tensor {
        try tensor(key, shape: shape)
    }
}

/// Seeded weights (see `SeededWeights`) for every key a model asks for; records the keys and shapes, so it
/// also gives the model's expected state_dict.
public final class SeededWeightSource: WeightSource {
    public let baseSeed: UInt64
    public let gain: (String) -> Double
    /// Every key asked for, in order, with its shape and value rule.
    public private(set) var recorded: [(key: String, shape: [Int], rule: SeededWeights.Rule)] = []

    public init(baseSeed: UInt64, gain: @escaping (String) -> Double = { _ in 1 }) {
        self.baseSeed = baseSeed
        self.gain = gain
    }

    public func tensor(_ key: String, shape: [Int], isNorm: Bool) throws -> Tensor {
        let rule = SeededWeights.standardRule(key: key, shape: shape, isNorm: isNorm, gain: gain(key))
        recorded.append((key, shape, rule))
        return SeededWeights.tensor(key: key, shape: shape, rule: rule, baseSeed: baseSeed)
    }

    public func require(_ key: String, shape: [Int]) throws {
        recorded.append((key, shape, SeededWeights.standardRule(key: key, shape: shape, isNorm: true)))
    }

    /// The recorded tensors as a state_dict, e.g. to write a safetensors file.
    public func stateDict() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (key, shape, rule) in recorded {
            result[key] = SeededWeights.tensor(key: key, shape: shape, rule: rule, baseSeed: baseSeed)
        }
        return result
    }
}

extension Conv2d {
    /// Convolves one image's feature map into `output` (which must hold outChannels × output size floats).
    @discardableResult
    public func apply(_ input: FeatureMap, into output: UnsafeMutablePointer<Float>, workspace: Workspace) -> FeatureMap {
        let (oh, ow) = outputSize(height: input.height, width: input.width)
        apply(input: input.data, height: input.height, width: input.width, output: output, scratch: workspace.scratch(0))
        return FeatureMap(data: output, channels: outChannels, height: oh, width: ow)
    }

    /// PyTorch's Conv2d weight (and bias) under `prefix`, with `outChannels`, `inChannels / groups`, kernel; with
    /// `foldedNorm`, the BatchNorm2d under that prefix that follows the convolution is folded in.
    public static func load(
        _ prefix: String, from source: WeightSource, inChannels: Int, outChannels: Int, kernel: Int,
        stride: Pair2D = 1, padding: Pair2D = 0, groups: Int = 1, bias: Bool, activation: Activation = .identity,
        foldedNorm: String? = nil
    ) throws -> Conv2d {
        let weight = try source.tensor("\(prefix).weight", shape: [outChannels, inChannels / groups, kernel, kernel], isNorm: false)
        let biasTensor = bias ? try source.tensor("\(prefix).bias", shape: [outChannels], isNorm: false) : nil
        let norm = try foldedNorm.map { try source.batchNorm($0, channels: outChannels) }
        return try Conv2d(weight: weight, bias: biasTensor, stride: stride, padding: padding, groups: groups,
                          activation: activation, folding: norm)
    }
}
