import ArrayFiles
import Foundation
import Inference

public enum SegmentationModelError: Error, CustomStringConvertible, Equatable {
    case wrongInputShape(expected: String, found: [Int])

    public var description: String {
        switch self {
        case let .wrongInputShape(expected, found): return "segmentation model input: expected \(expected), found shape \(found)"
        }
    }
}

/// smp 0.3.3 `UnetPlusPlus(encoder_name="densenet121", encoder_depth=5, encoder_weights=None, classes=2,
/// activation="sigmoid")` with its default decoder (channels 256, 128, 64, 32, 16, batch norm, no attention):
/// [N, 3, H, W] ImageNet-normalised images (H, W multiples of 32) → [N, 2, H, W] sigmoid probabilities.
/// Built from a state_dict with smp's key names; batch norms are folded into the convolutions at load. Images
/// run one at a time (one per thread), so the 3×3 convolutions take the Winograd form.
public struct UNetPlusPlus: Sendable {
    public static let classes = 2
    public static let decoderChannels = [256, 128, 64, 32, 16]

    /// upsample 2× → concat skips → (3×3 conv, BN, ReLU) × 2, keys `decoder.blocks.x_<depth>_<layer>.conv{1,2}.{0,1}`.
    struct DecoderBlock: Sendable {
        let conv1: Conv2d
        let conv2: Conv2d

        init(_ source: WeightSource, prefix: String, inChannels: Int, skipChannels: Int, outChannels: Int) throws {
            conv1 = try Conv2d.load("\(prefix).conv1.0", from: source, inChannels: inChannels + skipChannels,
                                    outChannels: outChannels, kernel: 3, padding: 1, bias: false, activation: .relu,
                                    foldedNorm: "\(prefix).conv1.1", preferWinograd: true)
            conv2 = try Conv2d.load("\(prefix).conv2.0", from: source, inChannels: outChannels,
                                    outChannels: outChannels, kernel: 3, padding: 1, bias: false, activation: .relu,
                                    foldedNorm: "\(prefix).conv2.1", preferWinograd: true)
        }

        func callAsFunction(_ x: FeatureMap, skips: [FeatureMap], workspace: Workspace, profile: LayerProfile?) -> FeatureMap {
            let height = 2 * x.height, width = 2 * x.width
            let joined = workspace.scratch(1, count: conv1.inChannels * height * width)
            profile.measure(LayerKind.memory) {
                let upsampled = Ops.upsampleNearest2x(x, into: joined)
                // The skips follow the upsampled channels in the same buffer (channel-major concatenation).
                if !skips.isEmpty { Ops.concatChannels(skips, into: joined + upsampled.count) }
            }
            let input = FeatureMap(data: joined, channels: conv1.inChannels, height: height, width: width)
            return profile.measure(LayerKind.decoder3x3(side: height)) {
                let middle = conv1.apply(input, into: workspace.scratch(2, count: conv1.outChannels * height * width), workspace: workspace)
                return conv2.apply(middle, into: workspace.floats(conv2.outChannels * height * width), workspace: workspace)
            }
        }
    }

    let encoder: DenseNetEncoder
    /// blocks[depth][layer] for layer in depth..<4, as smp's `x_{depth}_{layer}`.
    let blocks: [[Int: DecoderBlock]]
    let last: DecoderBlock
    let head: Conv2d
    /// Time per layer kind (`LayerKind`) when set; nil (no timing) by default.
    public var profile: LayerProfile?

    /// The rows of the per-layer profile, named as tools/reference/bench_ort.py names ONNX Runtime's nodes.
    public enum LayerKind {
        public static let stem = "stem"
        public static let encoderNorm = "encoder BN+ReLU"
        public static let encoderPointwise = "encoder 1x1 conv"
        public static let encoder3x3 = "encoder 3x3 conv"
        public static let transitions = "transitions"
        public static let head = "head"
        public static let memory = "memory and other"
        /// The decoder's 3×3 convolutions by the side of their plane (14 … 224 at 224²).
        public static func decoder3x3(side: Int) -> String { "decoder 3x3 conv \(side)x\(side)" }
    }

    /// Reads every tensor the model needs from `source` (the caller checks for unexpected keys).
    public init(weights source: WeightSource) throws {
        encoder = try DenseNetEncoder(source)
        // smp's channel bookkeeping: encoder channels without the input, deepest first.
        let encoderChannels = Array(DenseNetEncoder.outChannels.reversed())  // 1024, 1024, 512, 256, 64
        let inChannels = [encoderChannels[0]] + Self.decoderChannels.dropLast()
        let skipChannels = Array(encoderChannels.dropFirst()) + [0]
        var blocks = [[Int: DecoderBlock]](repeating: [:], count: 4)
        for layer in 0..<4 {
            for depth in 0...layer {
                let (inCh, skipCh, outCh) = depth == 0
                    ? (inChannels[layer], skipChannels[layer] * (layer + 1), Self.decoderChannels[layer])
                    : (skipChannels[layer - 1], skipChannels[layer] * (layer + 1 - depth), skipChannels[layer])
                blocks[depth][layer] = try DecoderBlock(source, prefix: "decoder.blocks.x_\(depth)_\(layer)",
                                                        inChannels: inCh, skipChannels: skipCh, outChannels: outCh)
            }
        }
        self.blocks = blocks
        last = try DecoderBlock(source, prefix: "decoder.blocks.x_0_4", inChannels: inChannels[4], skipChannels: 0,
                                outChannels: Self.decoderChannels[4])
        head = try Conv2d.load("segmentation_head.0", from: source, inChannels: Self.decoderChannels[4],
                               outChannels: Self.classes, kernel: 3, padding: 1, bias: true, activation: .sigmoid,
                               preferWinograd: true)
    }

    /// Loads a safetensors state_dict, insisting on exactly the model's keys and shapes.
    public init(contentsOf url: URL) throws {
        let reader = StateDictReader(try SafeTensorsFile(contentsOf: url))
        try self.init(weights: reader)
        try reader.finish()
    }

    /// One image [3, H, W] → probabilities [2, H, W] written to `output`.
    public func forward(_ input: FeatureMap, output: UnsafeMutablePointer<Float>, workspace: Workspace) {
        workspace.reset()
        let features = Array(encoder.features(input, workspace: workspace, profile: profile).reversed())  // deepest first
        var dense = [[Int: FeatureMap]](repeating: [:], count: 4)
        for layer in 0..<4 {
            for depth in 0..<(4 - layer) {
                if layer == 0 {
                    dense[depth][depth] = blocks[depth][depth]!(features[depth], skips: [features[depth + 1]], workspace: workspace,
                                                                profile: profile)
                } else {
                    let target = depth + layer
                    let skips = (depth + 1...target).map { dense[$0][target]! } + [features[target + 1]]
                    dense[depth][target] = blocks[depth][target]!(dense[depth][target - 1]!, skips: skips, workspace: workspace,
                                                                  profile: profile)
                }
            }
        }
        let top = last(dense[0][3]!, skips: [], workspace: workspace, profile: profile)
        profile.measure(LayerKind.head) { head.apply(top, into: output, workspace: workspace) }
    }

    /// A batch [N, 3, H, W] → [N, 2, H, W], one image per thread when `threads` > 1 (see `Parallel`).
    /// `workspaces` (at least one; one per thread is best) are reused across calls.
    public func predict(_ batch: Tensor, threads: Int, workspaces: [Workspace]) throws -> Tensor {
        guard batch.shape.count == 4, batch.shape[1] == 3, batch.shape[2] > 0, batch.shape[3] > 0,
              batch.shape[2] % 32 == 0, batch.shape[3] % 32 == 0
        else { throw SegmentationModelError.wrongInputShape(expected: "[N, 3, H, W] with H, W multiples of 32", found: batch.shape) }
        guard !workspaces.isEmpty else { throw InferenceError.invalidParameter("predict needs at least one workspace") }
        let (n, c, h, w) = batch.nchw
        var output = Tensor(zeros: [n, Self.classes, h, w])
        guard n > 0 else { return output }
        let model = self
        batch.storage.withUnsafeBufferPointer { inputBuffer in
            output.storage.withUnsafeMutableBufferPointer { outputBuffer in
                let input = SendablePointer(UnsafeMutablePointer(mutating: inputBuffer.baseAddress!))
                let out = SendablePointer(outputBuffer.baseAddress!)
                Parallel.forEach(count: n, threads: threads, workspaces: workspaces) { item, workspace in
                    let image = FeatureMap(data: input.pointer + item * c * h * w, channels: c, height: h, width: w)
                    model.forward(image, output: out.pointer + item * Self.classes * h * w, workspace: workspace)
                }
            }
        }
        return output
    }
}

extension UNetPlusPlus {
    /// Gains of the seeded parity weights (tools/reference/seg_fixtures.py `conv_gain`).
    public static func seededGain(_ key: String) -> Double {
        key.hasPrefix("segmentation_head") ? 0.5 : 2.0.squareRoot()
    }

    /// The seeded-weights source used by the parity fixtures and the benchmark (base seed 2021).
    public static func seededWeights(baseSeed: UInt64 = 2021) -> SeededWeightSource {
        SeededWeightSource(baseSeed: baseSeed) { key, shape, isNorm in
            SeededWeights.standardRule(key: key, shape: shape, isNorm: isNorm, gain: seededGain(key))
        }
    }
}
