import Inference

/// torchvision's DenseNet-121 features as smp 0.3.3's encoder uses them (keys `encoder.features.*`).
/// Returns the five skip features: stem ReLU (64 @ /2), each transition's ReLU output (256 @ /4, 512 @ /8,
/// 1024 @ /16) and norm5 without ReLU (1024 @ /32).
struct DenseNetEncoder: Sendable {
    static let growth = 32
    static let bottleneck = 128  // bn_size 4 × growth 32
    static let blockLayers = [6, 12, 24, 16]
    static let stemChannels = 64

    /// Pre-activation dense layer: BN → ReLU → 1×1 conv (+ folded BN, ReLU) → 3×3 conv, appending `growth` channels.
    struct DenseLayer: Sendable {
        let norm: BatchNorm
        let reduce: Conv2d
        let grow: Conv2d
    }

    struct Transition: Sendable {
        let norm: BatchNorm
        let conv: Conv2d
    }

    let stem: Conv2d
    let stemPool = MaxPool2d(kernel: 3, stride: 2, padding: 1)
    let blocks: [[DenseLayer]]
    let transitions: [Transition]
    let finalNorm: BatchNorm
    let transitionPool = AvgPool2d(kernel: 2, stride: 2)

    init(_ source: WeightSource, prefix: String = "encoder.features") throws {
        stem = try Conv2d.load("\(prefix).conv0", from: source, inChannels: 3, outChannels: Self.stemChannels,
                               kernel: 7, stride: 2, padding: 3, bias: false, activation: .relu, foldedNorm: "\(prefix).norm0")
        var blocks: [[DenseLayer]] = []
        var transitions: [Transition] = []
        var channels = Self.stemChannels
        for (b, count) in Self.blockLayers.enumerated() {
            var layers: [DenseLayer] = []
            for l in 0..<count {
                let layerPrefix = "\(prefix).denseblock\(b + 1).denselayer\(l + 1)"
                let norm = try source.batchNorm("\(layerPrefix).norm1", channels: channels)
                let reduce = try Conv2d.load("\(layerPrefix).conv1", from: source, inChannels: channels,
                                             outChannels: Self.bottleneck, kernel: 1, bias: false, activation: .relu,
                                             foldedNorm: "\(layerPrefix).norm2")
                let grow = try Conv2d.load("\(layerPrefix).conv2", from: source, inChannels: Self.bottleneck,
                                           outChannels: Self.growth, kernel: 3, padding: 1, bias: false, preferWinograd: true)
                layers.append(DenseLayer(norm: norm, reduce: reduce, grow: grow))
                channels += Self.growth
            }
            blocks.append(layers)
            if b < Self.blockLayers.count - 1 {
                let tPrefix = "\(prefix).transition\(b + 1)"
                let norm = try source.batchNorm("\(tPrefix).norm", channels: channels)
                let conv = try Conv2d.load("\(tPrefix).conv", from: source, inChannels: channels,
                                           outChannels: channels / 2, kernel: 1, bias: false)
                transitions.append(Transition(norm: norm, conv: conv))
                channels /= 2
            }
        }
        self.blocks = blocks
        self.transitions = transitions
        self.finalNorm = try source.batchNorm("\(prefix).norm5", channels: channels)
    }

    /// Skip features of one image [3, H, W], all in the workspace's feature-map memory; timed into `profile`.
    func features(_ input: FeatureMap, workspace: Workspace, profile: LayerProfile? = nil) -> [FeatureMap] {
        typealias Kind = UNetPlusPlus.LayerKind
        let (sh, sw) = stem.outputSize(height: input.height, width: input.width)
        let stemOut = profile.measure(Kind.stem) {
            stem.apply(input, into: workspace.floats(Self.stemChannels * sh * sw), workspace: workspace)
        }
        var skips = [stemOut]

        // Each block's buffer holds its input channels followed by every layer's new channels.
        let (ph, pw) = stemPool.outputSize(height: sh, width: sw)
        var blockInputChannels = Self.stemChannels
        var block = workspace.featureMap(channels: blockInputChannels + blocks[0].count * Self.growth, height: ph, width: pw)
        profile.measure(Kind.stem) { stemPool.apply(stemOut, into: block.data) }

        for (b, layers) in blocks.enumerated() {
            var channels = blockInputChannels
            let plane = block.planeSize
            let activated = workspace.scratch(1, count: block.count)
            let reduced = workspace.scratch(2, count: Self.bottleneck * plane)
            for layer in layers {
                let normed = profile.measure(Kind.encoderNorm) {
                    layer.norm.apply(block.leadingChannels(channels), into: activated, activation: .relu)
                }
                let bottleneck = profile.measure(Kind.encoderPointwise) { layer.reduce.apply(normed, into: reduced, workspace: workspace) }
                profile.measure(Kind.encoder3x3) { layer.grow.apply(bottleneck, into: block.channel(channels), workspace: workspace) }
                channels += Self.growth
            }
            guard b < transitions.count else {
                skips.append(profile.measure(Kind.transitions) { finalNorm.apply(block, into: workspace.floats(block.count)) })
                break
            }
            let transition = transitions[b]
            let (th, tw) = transitionPool.outputSize(height: block.height, width: block.width)
            let next = workspace.featureMap(channels: transition.conv.outChannels + blocks[b + 1].count * Self.growth,
                                            height: th, width: tw)
            profile.measure(Kind.transitions) {
                let skip = transition.norm.apply(block, into: workspace.floats(block.count), activation: .relu)
                skips.append(skip)
                let squeezed = transition.conv.apply(skip, into: workspace.scratch(1, count: transition.conv.outChannels * plane),
                                                     workspace: workspace)
                transitionPool.apply(squeezed, into: next.data)
            }
            blockInputChannels = transition.conv.outChannels
            block = next
        }
        return skips
    }

    static let outChannels = [64, 256, 512, 1024, 1024]
}
