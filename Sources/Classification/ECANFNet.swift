import Foundation
import Inference

/// The layers of timm's `eca_nfnet_l0` (timm 0.9.16), as data: key prefixes and shapes come from here, so the
/// loader and the key manifest cannot disagree.
public enum ECANFNetArchitecture {
    public struct Convolution: Sendable, Equatable {
        public let key: String
        public let inChannels, outChannels, kernel, stride, groups: Int
        public var weightShape: [Int] { [outChannels, inChannels / groups, kernel, kernel] }
    }

    public struct Block: Sendable, Equatable {
        public let key: String
        public let inChannels, midChannels, outChannels, stride: Int
        /// 1 / √(expected variance) of the block's input (timm's running `expected_var`).
        public let beta: Float
        public let hasDownsample: Bool
        public var conv1: Convolution { .init(key: "\(key).conv1", inChannels: inChannels, outChannels: midChannels, kernel: 1, stride: 1, groups: 1) }
        public var conv2: Convolution { .init(key: "\(key).conv2", inChannels: midChannels, outChannels: midChannels, kernel: 3, stride: stride, groups: midChannels / ECANFNetArchitecture.groupSize) }
        public var conv2b: Convolution { .init(key: "\(key).conv2b", inChannels: midChannels, outChannels: midChannels, kernel: 3, stride: 1, groups: midChannels / ECANFNetArchitecture.groupSize) }
        public var conv3: Convolution { .init(key: "\(key).conv3", inChannels: midChannels, outChannels: outChannels, kernel: 1, stride: 1, groups: 1) }
        public var downsample: Convolution? {
            hasDownsample ? .init(key: "\(key).downsample.conv", inChannels: inChannels, outChannels: outChannels, kernel: 1, stride: 1, groups: 1) : nil
        }
        public var ecaKey: String { "\(key).attn_last.conv.weight" }
        public var convolutions: [Convolution] { (downsample.map { [$0] } ?? []) + [conv1, conv2, conv2b, conv3] }
    }

    public static let groupSize = 64
    public static let alpha: Float = 0.2
    /// NF correction gain applied to the attention output.
    public static let attentionGain: Float = 2
    /// timm's `_nonlin_gamma["silu"]`, folded into every ScaledStdConv2d.
    public static let siluGamma = 1.7881293296813965
    public static let standardizationEps = 1e-5
    public static let ecaKernel = 5
    public static let embeddingWidth = 2304
    public static let inputSize = 224
    /// Floats of one input frame, 3 × 224 × 224 channel-planar.
    public static let frameSize = 3 * inputSize * inputSize

    public static let stem: [Convolution] = [
        .init(key: "stem.conv1", inChannels: 3, outChannels: 16, kernel: 3, stride: 2, groups: 1),
        .init(key: "stem.conv2", inChannels: 16, outChannels: 32, kernel: 3, stride: 1, groups: 1),
        .init(key: "stem.conv3", inChannels: 32, outChannels: 64, kernel: 3, stride: 1, groups: 1),
        .init(key: "stem.conv4", inChannels: 64, outChannels: 128, kernel: 3, stride: 2, groups: 1),
    ]

    public static let blocks: [Block] = {
        let depths = [1, 2, 6, 3], widths = [256, 512, 1536, 1536]
        var blocks: [Block] = []
        var inChannels = 128
        var expectedVariance = 1.0
        for (stage, depth) in depths.enumerated() {
            for index in 0..<depth {
                blocks.append(Block(
                    key: "stages.\(stage).\(index)", inChannels: inChannels, midChannels: widths[stage] / 4,
                    outChannels: widths[stage], stride: index == 0 && stage > 0 ? 2 : 1,
                    beta: Float(1 / expectedVariance.squareRoot()), hasDownsample: index == 0))
                if index == 0 { expectedVariance = 1 }
                expectedVariance += Double(alpha) * Double(alpha)
                inChannels = widths[stage]
            }
        }
        return blocks
    }()

    public static let finalConv = Convolution(
        key: "final_conv", inChannels: 1536, outChannels: embeddingWidth, kernel: 1, stride: 1, groups: 1)

    /// Every state_dict entry of the backbone, with `prefix` (e.g. "backbone.").
    public static func manifest(prefix: String = "") -> [(key: String, shape: [Int])] {
        var entries: [(String, [Int])] = []
        func add(_ conv: Convolution) {
            entries += [(prefix + conv.key + ".weight", conv.weightShape), (prefix + conv.key + ".bias", [conv.outChannels]),
                        (prefix + conv.key + ".gain", [conv.outChannels, 1, 1, 1])]
        }
        stem.forEach(add)
        for block in blocks {
            block.convolutions.forEach(add)
            entries.append((prefix + block.ecaKey, [1, 1, ecaKernel]))
        }
        add(finalConv)
        return entries
    }
}

/// timm `eca_nfnet_l0` with `head.fc = Identity`: a normalised 3×224×224 frame → its 2304-d average-pooled
/// embedding. Weight standardisation is done once, at load.
public struct ECANFNet: Sendable {
    struct Block: Sendable {
        let spec: ECANFNetArchitecture.Block
        let downsample: Conv2d?
        let conv1, conv2, conv2b, conv3: Conv2d
        let eca: [Float]
    }

    /// DownsampleAvg's pool: windows cut at an odd edge average only what they cover.
    static let shortcutPool = AvgPool2d(kernel: 2, stride: 2, ceilMode: true, countIncludePad: false)

    let stem: [Conv2d]
    let blocks: [Block]
    let finalConv: Conv2d
    /// Time per layer kind (`LayerKind`) when set; nil (no timing) by default.
    public var profile: LayerProfile?
    /// Workspaces kept from one `embed` to the next: their memory is mapped and faulted in once, not per chunk.
    private let idleWorkspaces = IdleWorkspaces()

    /// The rows of the per-layer profile, named as tools/reference/bench_ort.py names ONNX Runtime's nodes.
    public enum LayerKind {
        public static let stem = "stem"
        public static let grouped3x3 = "grouped 3x3 conv"
        public static let pointwise = "1x1 conv"
        public static let activations = "activations and residuals"
        public static let eca = "ECA"
        public static let pooling = "pooling"
        public static let layout = "memory and other"
    }

    /// Loads `prefix`-ed timm keys (the classifier file stores them under "backbone.").
    public init(weights source: WeightSource, prefix: String = "") throws {
        let stemSpecs = ECANFNetArchitecture.stem
        stem = try stemSpecs.enumerated().map { i, spec in
            // SiLU follows every stem conv but the last.
            // The stem runs frame by frame: Winograd where the convolution allows it.
            try Self.standardizedConvolution(spec, prefix: prefix, activation: i < stemSpecs.count - 1 ? .silu : .identity,
                                             preferWinograd: true, from: source)
        }
        blocks = try ECANFNetArchitecture.blocks.enumerated().map { index, spec in
            // Winograd for the stride-1 3×3s down to 14² planes, grouped or not (stage 0's are ungrouped, 64 wide).
            let winograd = index < Self.firstWinogradlessBlock
            return Block(
                spec: spec,
                downsample: try spec.downsample.map { try Self.standardizedConvolution($0, prefix: prefix, activation: .identity, from: source) },
                conv1: try Self.standardizedConvolution(spec.conv1, prefix: prefix, activation: .silu, from: source),
                conv2: try Self.standardizedConvolution(spec.conv2, prefix: prefix, activation: .silu,
                                                        preferWinograd: winograd, from: source),
                conv2b: try Self.standardizedConvolution(spec.conv2b, prefix: prefix, activation: .silu,
                                                         preferWinograd: winograd, from: source),
                conv3: try Self.standardizedConvolution(spec.conv3, prefix: prefix, activation: .identity, from: source),
                eca: try source.tensor(prefix + spec.ecaKey, shape: [1, 1, ECANFNetArchitecture.ecaKernel]).storage)
        }
        finalConv = try Self.standardizedConvolution(ECANFNetArchitecture.finalConv, prefix: prefix, activation: .silu, from: source)
    }

    /// ScaledStdConv2d: w' = gain · γ/√fan_in · (w − mean) / √(var + eps), mean and biased variance per output
    /// channel over its fan-in (timm computes it with F.batch_norm in training mode).
    static func standardizedConvolution(
        _ spec: ECANFNetArchitecture.Convolution, prefix: String, activation: Activation, preferWinograd: Bool = false,
        from source: WeightSource
    ) throws -> Conv2d {
        let key = prefix + spec.key
        let raw = try source.tensor(key + ".weight", shape: spec.weightShape)
        let bias = try source.tensor(key + ".bias", shape: [spec.outChannels])
        let gain = try source.tensor(key + ".gain", shape: [spec.outChannels, 1, 1, 1])
        let fanIn = raw.count / spec.outChannels
        let scale = Float(ECANFNetArchitecture.siluGamma / Double(fanIn).squareRoot())
        var standardized = [Float](repeating: 0, count: raw.count)
        for o in 0..<spec.outChannels {
            let row = raw.storage[(o * fanIn)..<((o + 1) * fanIn)]
            let mean = row.reduce(0.0) { $0 + Double($1) } / Double(fanIn)
            let variance = row.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(fanIn)
            // timm multiplies gain by the scale in float32 before the normalisation uses it.
            let factor = Double(gain.storage[o] * scale) / (variance + ECANFNetArchitecture.standardizationEps).squareRoot()
            for (i, w) in row.enumerated() { standardized[o * fanIn + i] = Float((Double(w) - mean) * factor) }
        }
        return try Conv2d(
            weight: Tensor(shape: spec.weightShape, storage: standardized), bias: bias,
            stride: Pair2D(spec.stride, spec.stride), padding: spec.kernel == 3 ? 1 : 0, groups: spec.groups,
            activation: activation, preferWinograd: preferWinograd)
    }

    /// Frames per batch at most: the stages at 14×14 and 7×7 run as one GEMM per layer over the batch.
    static let maximumBatch = 8

    /// Embeddings of `count` frames (count × 3 × 224 × 224, normalised) → count × 2304.
    public func embed(frames: [Float], count: Int, threads: Int = 1) throws -> [Float] {
        let side = ECANFNetArchitecture.inputSize
        guard frames.count == count * ECANFNetArchitecture.frameSize else {
            throw InferenceError.shapeMismatch(what: "backbone input", expected: [count, 3, side, side], found: [frames.count])
        }
        return try frames.withUnsafeBufferPointer { input in
            let base = SendablePointer(UnsafeMutablePointer(mutating: input.baseAddress!))
            return try embed(count: count, threads: threads) { index, frame in
                frame.update(from: base.pointer + index * ECANFNetArchitecture.frameSize, count: ECANFNetArchitecture.frameSize)
            }
        }
    }

    /// Embeddings of `count` frames → count × 2304, where `writeFrame(i, into)` writes frame i (3 × 224 × 224,
    /// normalised) when its batch is about to run: only the frames of the batches in flight are in memory (a
    /// whole series' frames took 90 MB), and the workers build them in parallel. Frames are cut into batches
    /// spread evenly over `threads` workers (engine's `Parallel`: single-threaded BLAS inside each). The first
    /// error `writeFrame` throws is rethrown once the workers stop.
    public func embed(
        count: Int, threads: Int = 1, writeFrame: @Sendable (Int, UnsafeMutablePointer<Float>) throws -> Void
    ) throws -> [Float] {
        let width = ECANFNetArchitecture.embeddingWidth
        var output = [Float](repeating: 0, count: count * width)
        guard count > 0 else { return output }
        let workers = max(1, min(threads, count))
        let batchCount = workers * ((count + workers * Self.maximumBatch - 1) / (workers * Self.maximumBatch))
        let batchSize = (count + batchCount - 1) / batchCount
        let batches = stride(from: 0, to: count, by: batchSize).map { $0..<min($0 + batchSize, count) }
        let model = self
        let workspaces = idleWorkspaces.take(workers)
        defer { idleWorkspaces.giveBack(workspaces) }
        let failure = FirstError()
        output.withUnsafeMutableBufferPointer { out in
            let outputBase = SendablePointer(out.baseAddress!)
            // With a single batch, Parallel gives sgemm all `threads`; with several, one batch per thread.
            Parallel.forEach(count: batches.count, threads: threads, workspaces: workspaces) { index, workspace in
                let batch = batches[index]
                guard !failure.isSet else { return }
                let frames = workspace.scratch(Self.frameSlot, count: batch.count * ECANFNetArchitecture.frameSize)
                do {
                    for (row, frame) in batch.enumerated() { try writeFrame(frame, frames + row * ECANFNetArchitecture.frameSize) }
                } catch {
                    failure.record(error)
                    return
                }
                model.forward(frames, frames: batch.count, into: outputBase.pointer + batch.lowerBound * width, workspace)
            }
        }
        try failure.rethrow()
        return output
    }

    /// Workspace scratch slots (slot 0 is the convolutions'): the activation buffers (`forward`), and the input
    /// frames of the batch a worker runs.
    static let activationSlot = 1, frameSlot = 2

    /// Floats in each per-frame activation buffer: the largest layer output (64 × 112 × 112).
    static let frameBufferCapacity = 64 * 112 * 112
    /// Floats per frame of the batched block input and its activation: stage 2's input (512 × 28 × 28).
    static let batchBufferCapacity = 512 * 28 * 28
    /// Floats per frame of the other batched buffers: the widest output from stage 2 on (1536 × 14 × 14, also
    /// stage 2's first conv1 output 384 × 28 × 28).
    static let narrowBufferCapacity = 1536 * 14 * 14
    /// Blocks before this index run frame by frame (large planes already make wide GEMMs); the rest run batched.
    static let firstBatchedBlock = ECANFNetArchitecture.blocks.firstIndex { $0.key.hasPrefix("stages.2.") }!
    /// Blocks from this one on (stage 3, 7² planes) keep the direct grouped kernel: one 7² image is 4 Winograd
    /// tiles (8² outputs for 7²), and making U costs more than the products save at small batches (0.43× the
    /// direct kernel at batch 1, 1.5× at batch 8).
    static let firstWinogradlessBlock = ECANFNetArchitecture.blocks.firstIndex { $0.key.hasPrefix("stages.3.") }!

    /// A batch of frames. The activation slot holds the batched block input x (channel-major, [C][B][H][W]),
    /// then either the five per-frame buffers (CHW) of the frame-by-frame head, or the batched a, b, c, s: the
    /// head is done with its buffers before the batched blocks start, so both share that memory (32 MB a worker).
    private func forward(_ input: UnsafeMutablePointer<Float>, frames: Int, into embeddings: UnsafeMutablePointer<Float>, _ workspace: Workspace) {
        let wide = Self.batchBufferCapacity * frames, narrow = Self.narrowBufferCapacity * frames
        let shared = max(5 * Self.frameBufferCapacity, wide + 3 * narrow)
        let x = workspace.scratch(Self.activationSlot, count: wide + shared)
        let single = (0..<5).map { x + wide + $0 * Self.frameBufferCapacity }
        let (a, b) = (x + wide, x + 2 * wide)
        let (c, s) = (b + narrow, b + 2 * narrow)
        let frameSize = ECANFNetArchitecture.frameSize
        let channels = ECANFNetArchitecture.blocks[Self.firstBatchedBlock - 1].outChannels
        var (h, w) = (0, 0)
        for f in 0..<frames {
            (h, w) = frameHead(input + f * frameSize, single, workspace)
            // Scatter the frame's planes into the batch: channel c of frame f at [c][f].
            profile.measure(LayerKind.layout) {
                for c in 0..<channels {
                    (x + (c * frames + f) * h * w).update(from: single[0] + c * h * w, count: h * w)
                }
            }
        }
        (h, w) = runBlocks(Self.firstBatchedBlock..<blocks.count, frames: frames, height: h, width: w,
                           x: x, a: a, b: b, c: c, s: s, workspace: workspace)
        let features = profile.measure(LayerKind.pointwise) {
            finalConv.apply(FeatureMap(data: x, channels: finalConv.inChannels, batch: frames, height: h, width: w),
                            into: a, workspace: workspace)
        }
        let plane = features.planeSize
        profile.measure(LayerKind.pooling) {
            for f in 0..<frames {
                for ch in 0..<ECANFNetArchitecture.embeddingWidth {
                    embeddings[f * ECANFNetArchitecture.embeddingWidth + ch] = VectorMath.mean(features.channel(ch) + f * plane, count: plane)
                }
            }
        }
    }

    /// Stem and the blocks before `firstBatchedBlock` for one frame; the result is in `buffers[0]`.
    private func frameHead(_ input: UnsafeMutablePointer<Float>, _ buffers: [UnsafeMutablePointer<Float>], _ workspace: Workspace) -> (Int, Int) {
        let x = buffers[0], a = buffers[1], b = buffers[2], c = buffers[3], s = buffers[4]
        let side = ECANFNetArchitecture.inputSize
        // Stem: input → a → b → a → x.
        var map = FeatureMap(data: input, channels: 3, height: side, width: side)
        for (i, conv) in stem.enumerated() {
            let source = map
            map = profile.measure(LayerKind.stem) {
                conv.apply(source, into: i == stem.count - 1 ? x : (i % 2 == 0 ? a : b), workspace: workspace)
            }
        }
        return runBlocks(0..<Self.firstBatchedBlock, frames: 1, height: map.height, width: map.width,
                         x: x, a: a, b: b, c: c, s: s, workspace: workspace)
    }

    /// The blocks `range` one after another, in place on x; each block but the last also leaves the next one's
    /// input activation in a (see `runBlock`).
    private func runBlocks(
        _ range: Range<Int>, frames: Int, height: Int, width: Int,
        x: UnsafeMutablePointer<Float>, a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>,
        c: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>, workspace: Workspace
    ) -> (Int, Int) {
        var (h, w) = (height, width)
        for index in range {
            (h, w) = runBlock(blocks[index], frames: frames, height: h, width: w, inputActivated: index > range.lowerBound,
                              nextBeta: index + 1 < range.upperBound ? blocks[index + 1].spec.beta : nil,
                              x: x, a: a, b: b, c: c, s: s, workspace: workspace)
        }
        return (h, w)
    }

    /// One NormFreeBlock on `frames` frames stored channel-major (for one frame that is plain CHW), in place on x:
    /// x ← conv3(…(SiLU(x)·β))·ECA·2·α + shortcut. a, b, c, s are scratch buffers of the same capacity. With
    /// `inputActivated`, a already holds SiLU(x)·β; with `nextBeta`, the block leaves SiLU(x)·nextBeta in a for the
    /// next block, plane by plane right after writing x (one pass over x fewer).
    private func runBlock(
        _ block: Block, frames: Int, height h: Int, width w: Int, inputActivated: Bool, nextBeta: Float?,
        x: UnsafeMutablePointer<Float>, a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>,
        c: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>, workspace: Workspace
    ) -> (Int, Int) {
        let spec = block.spec
        // Element-wise passes split their channels over the threads a lone batch has (Parallel.threadsForOneItem).
        let threads = Parallel.threadsForOneItem
        let (input, activation) = (SendablePointer(x), SendablePointer(a))
        if !inputActivated {
            let channelFloats = frames * h * w
            profile.measure(LayerKind.activations) {
                Parallel.split(spec.inChannels, unitWork: channelFloats, threads: threads) { channels in
                    let first = channels.lowerBound * channelFloats
                    VectorMath.silu(from: input.pointer + first, to: activation.pointer + first, count: channels.count * channelFloats,
                                    factor: spec.beta)
                }
            }
        }
        let activated = FeatureMap(data: a, channels: spec.inChannels, batch: frames, height: h, width: w)
        var shortcut = UnsafePointer(x)
        if let downsample = block.downsample {
            let pooled = spec.stride == 2 ? profile.measure(LayerKind.pooling) { Self.shortcutPool.apply(activated, into: c) } : activated
            profile.measure(LayerKind.pointwise) { _ = downsample.apply(pooled, into: s, workspace: workspace) }
            shortcut = UnsafePointer(s)
        }
        let reduced = profile.measure(LayerKind.pointwise) { block.conv1.apply(activated, into: b, workspace: workspace) }
        let regrouped = profile.measure(LayerKind.grouped3x3) {
            block.conv2b.apply(block.conv2.apply(reduced, into: c, workspace: workspace), into: b, workspace: workspace)
        }
        let output = profile.measure(LayerKind.pointwise) { block.conv3.apply(regrouped, into: c, workspace: workspace) }
        let plane = output.planeSize
        let gates = profile.measure(LayerKind.eca) {
            ecaGates(c, frames: frames, channels: spec.outChannels, planeSize: plane, weights: block.eca)
        }
        let (branch, residual) = (SendablePointer(c), SendablePointer(UnsafeMutablePointer(mutating: shortcut)))
        // Channel by channel, each channel's frames in turn: the batch's memory in order (a channel's planes are
        // side by side), one stream the prefetchers follow, where frame by frame jumped a channel's planes apart.
        profile.measure(LayerKind.activations) {
            Parallel.split(spec.outChannels, unitWork: frames * plane, threads: threads) { channels in
                for ch in channels {
                    for f in 0..<frames {
                        let factor = gates[f * spec.outChannels + ch] * ECANFNetArchitecture.attentionGain * ECANFNetArchitecture.alpha
                        let base = (ch * frames + f) * plane
                        VectorMath.scaleAdd(branch.pointer + base, scale: factor, plus: residual.pointer + base,
                                            into: input.pointer + base, count: plane)
                        if let nextBeta {
                            VectorMath.silu(from: input.pointer + base, to: activation.pointer + base, count: plane, factor: nextBeta)
                        }
                    }
                }
            }
        }
        return (output.height, output.width)
    }

    /// ECA for each frame of a channel-major batch: per-channel mean → 1-D convolution across channels (zero
    /// padded) → sigmoid; frame f's gates at [f · channels ..< (f + 1) · channels]. The means are taken in memory
    /// order (channel by channel, its frames in turn).
    private func ecaGates(_ x: UnsafePointer<Float>, frames: Int, channels: Int, planeSize: Int, weights: [Float]) -> [Float] {
        var means = [Float](repeating: 0, count: frames * channels)
        for ch in 0..<channels {
            for f in 0..<frames { means[f * channels + ch] = VectorMath.mean(x + (ch * frames + f) * planeSize, count: planeSize) }
        }
        let half = weights.count / 2
        return (0..<frames * channels).map { index in
            let (frameStart, ch) = (index / channels * channels, index % channels)
            var y: Float = 0
            for k in 0..<weights.count {
                let j = ch + k - half
                if j >= 0 && j < channels { y += weights[k] * means[frameStart + j] }
            }
            return VectorMath.sigmoid(y)
        }
    }
}

/// The first error thrown by any worker of one `embed` call.
private final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return error != nil
    }

    func record(_ error: Error) {
        lock.lock()
        if self.error == nil { self.error = error }
        lock.unlock()
    }

    func rethrow() throws {
        if let error { throw error }
    }
}

/// Workspaces between the calls of one model; calls running at the same time each take their own.
private final class IdleWorkspaces: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [Workspace] = []

    func take(_ count: Int) -> [Workspace] {
        lock.lock()
        defer { lock.unlock() }
        let reused = Array(idle.suffix(count))
        idle.removeLast(reused.count)
        return reused + (reused.count..<count).map { _ in Workspace() }
    }

    func giveBack(_ workspaces: [Workspace]) {
        lock.lock()
        idle += workspaces
        lock.unlock()
    }
}
