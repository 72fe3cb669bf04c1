import Foundation
import Inference

/// A tensor source by PyTorch key and expected shape (a safetensors file, seeded weights, ...).
public typealias TensorLoader = (_ key: String, _ shape: [Int]) throws -> Tensor

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

    /// Loads `prefix`-ed timm keys (the classifier file stores them under "backbone.").
    public init(prefix: String = "", load: TensorLoader) throws {
        let stemSpecs = ECANFNetArchitecture.stem
        stem = try stemSpecs.enumerated().map { i, spec in
            // SiLU follows every stem conv but the last.
            try Self.standardizedConvolution(spec, prefix: prefix, activation: i < stemSpecs.count - 1 ? .silu : .identity, load: load)
        }
        blocks = try ECANFNetArchitecture.blocks.map { spec in
            Block(
                spec: spec,
                downsample: try spec.downsample.map { try Self.standardizedConvolution($0, prefix: prefix, activation: .identity, load: load) },
                conv1: try Self.standardizedConvolution(spec.conv1, prefix: prefix, activation: .silu, load: load),
                conv2: try Self.standardizedConvolution(spec.conv2, prefix: prefix, activation: .silu, load: load),
                conv2b: try Self.standardizedConvolution(spec.conv2b, prefix: prefix, activation: .silu, load: load),
                conv3: try Self.standardizedConvolution(spec.conv3, prefix: prefix, activation: .identity, load: load),
                eca: try load(prefix + spec.ecaKey, [1, 1, ECANFNetArchitecture.ecaKernel]).storage)
        }
        finalConv = try Self.standardizedConvolution(ECANFNetArchitecture.finalConv, prefix: prefix, activation: .silu, load: load)
    }

    /// ScaledStdConv2d: w' = gain · γ/√fan_in · (w − mean) / √(var + eps), mean and biased variance per output
    /// channel over its fan-in (timm computes it with F.batch_norm in training mode).
    static func standardizedConvolution(
        _ spec: ECANFNetArchitecture.Convolution, prefix: String, activation: Activation, load: TensorLoader
    ) throws -> Conv2d {
        let key = prefix + spec.key
        let raw = try load(key + ".weight", spec.weightShape)
        let bias = try load(key + ".bias", [spec.outChannels])
        let gain = try load(key + ".gain", [spec.outChannels, 1, 1, 1])
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
            activation: activation)
    }

    /// Embeddings of `count` frames (count × 3 × 224 × 224, normalised) → count × 2304, one frame per thread
    /// (engine's `Parallel`: single-threaded BLAS inside each).
    public func embed(frames: [Float], count: Int, threads: Int = 1) throws -> [Float] {
        let side = ECANFNetArchitecture.inputSize
        let frameSize = 3 * side * side
        guard frames.count == count * frameSize else {
            throw InferenceError.shapeMismatch(what: "backbone input", expected: [count, 3, side, side], found: [frames.count])
        }
        let width = ECANFNetArchitecture.embeddingWidth
        var output = [Float](repeating: 0, count: count * width)
        guard count > 0 else { return output }
        let model = self
        let workspaces = (0..<max(1, min(threads, count))).map { _ in Workspace() }
        frames.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                let inputBase = SendablePointer(UnsafeMutablePointer(mutating: input.baseAddress!))
                let outputBase = SendablePointer(out.baseAddress!)
                Parallel.forEach(count: count, threads: threads, workspaces: workspaces) { frame, workspace in
                    model.forward(inputBase.pointer + frame * frameSize, into: outputBase.pointer + frame * width, workspace)
                }
            }
        }
        return output
    }

    /// Floats in each activation buffer: the largest layer output (64 × 112 × 112).
    static let bufferCapacity = 64 * 112 * 112

    /// One frame. Workspace scratch slot 0 is the convolutions' im2col space, slots 1–5 the activation buffers.
    private func forward(_ input: UnsafePointer<Float>, into embedding: UnsafeMutablePointer<Float>, _ workspace: Workspace) {
        let buffers = (1...5).map { workspace.scratch($0).floats(Self.bufferCapacity) }
        let x = buffers[0], a = buffers[1], b = buffers[2], c = buffers[3], s = buffers[4]
        let scratch = workspace.scratch(0)
        var h = ECANFNetArchitecture.inputSize, wd = h
        // Stem: input → a → b → a → x.
        var source = input
        for (i, conv) in stem.enumerated() {
            let target = i == stem.count - 1 ? x : (i % 2 == 0 ? a : b)
            conv.apply(input: source, height: h, width: wd, output: target, scratch: scratch)
            (h, wd) = conv.outputSize(height: h, width: wd)
            source = UnsafePointer(target)
        }
        for block in blocks {
            let spec = block.spec
            // out = SiLU(x)·β, the input of both branches.
            let inCount = spec.inChannels * h * wd
            for i in 0..<inCount { let v = x[i]; a[i] = v / (1 + expf(-v)) * spec.beta }
            var shortcut = UnsafePointer(x)
            let (oh, ow) = block.conv2.outputSize(height: h, width: wd)
            if let downsample = block.downsample {
                if spec.stride == 2 {
                    Self.shortcutPool.apply(input: a, channels: spec.inChannels, height: h, width: wd, output: c)
                    downsample.apply(input: c, height: oh, width: ow, output: s, scratch: scratch)
                } else {
                    downsample.apply(input: a, height: h, width: wd, output: s, scratch: scratch)
                }
                shortcut = UnsafePointer(s)
            }
            block.conv1.apply(input: a, height: h, width: wd, output: b, scratch: scratch)
            block.conv2.apply(input: b, height: h, width: wd, output: c, scratch: scratch)
            block.conv2b.apply(input: c, height: oh, width: ow, output: b, scratch: scratch)
            block.conv3.apply(input: b, height: oh, width: ow, output: c, scratch: scratch)
            let plane = oh * ow
            let gates = ecaGates(c, channels: spec.outChannels, planeSize: plane, weights: block.eca)
            for ch in 0..<spec.outChannels {
                let factor = gates[ch] * ECANFNetArchitecture.attentionGain * ECANFNetArchitecture.alpha
                let base = ch * plane
                for i in base..<(base + plane) { x[i] = c[i] * factor + shortcut[i] }
            }
            (h, wd) = (oh, ow)
        }
        finalConv.apply(input: x, height: h, width: wd, output: a, scratch: scratch)
        let plane = h * wd
        for ch in 0..<ECANFNetArchitecture.embeddingWidth {
            var sum = 0.0
            for i in 0..<plane { sum += Double(a[ch * plane + i]) }
            embedding[ch] = Float(sum / Double(plane))
        }
    }

    /// ECA: per-channel mean → 1-D convolution across channels (zero padded) → sigmoid.
    private func ecaGates(_ x: UnsafePointer<Float>, channels: Int, planeSize: Int, weights: [Float]) -> [Float] {
        var means = [Float](repeating: 0, count: channels)
        for ch in 0..<channels {
            var sum = 0.0
            for i in 0..<planeSize { sum += Double(x[ch * planeSize + i]) }
            means[ch] = Float(sum / Double(planeSize))
        }
        let half = weights.count / 2
        return (0..<channels).map { ch in
            var y: Float = 0
            for k in 0..<weights.count {
                let j = ch + k - half
                if j >= 0 && j < channels { y += weights[k] * means[j] }
            }
            return 1 / (1 + expf(-y))
        }
    }
}

/// A pointer handed to worker threads that write disjoint parts of the memory behind it.
struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}
