import Inference

/// MONAI's `ResNet` as `resnet18`/`resnet34(spatial_dims=3, n_input_channels=1, num_classes=1)` build it
/// (MONAI 1.4): a 7×7×7 stem convolution (stride configurable) + BN + ReLU, a 3×3×3 max-pool of stride 2, four
/// stages of BasicBlocks (64, 128, 256, 512 channels; the first block of stages 2–4 has stride 2 and a 1×1×1
/// convolution + BN shortcut, MONAI's shortcut type B), a global average pool and a linear head to one logit.
public enum ResNet3DArchitecture {
    /// BasicBlocks per stage, by depth.
    public static let blocksPerStage: [Int: [Int]] = [18: [2, 2, 2, 2], 34: [3, 4, 6, 3]]
    public static let stageWidths = [64, 128, 256, 512]
    public static let stemKernel = 7

    /// Every state_dict key and shape of the network (what a `classifier3d-<type>.safetensors` must hold).
    public static func manifest(depth: Int) throws -> [(key: String, shape: [Int])] {
        let source = SeededWeightSource(baseSeed: 0)
        _ = try ResNet3D(weights: source, depth: depth, stemStride: 1)
        return source.recorded.map { ($0.key, $0.shape) }
    }
}

/// The network on the engine, batch norms folded at load.
public struct ResNet3D: Sendable {
    struct Block: Sendable {
        /// conv1 + bn1 + ReLU.
        let first: Conv3d
        /// conv2 + bn2, added to the shortcut, then ReLU.
        let second: Conv3d
        /// The 1×1×1 strided convolution + BN of a block that changes size; nil: the identity.
        let shortcut: Conv3d?
    }

    public let depth: Int
    public let stemStride: Triple3D
    let stem: Conv3d
    let pool = MaxPool3d(kernel: 3, stride: 2, padding: 1)
    let blocks: [Block]
    let head: Linear

    /// Loads PyTorch's key names (`conv1.weight`, `bn1.*`, `layer1.0.conv1.weight`, `layer2.0.downsample.0.*`,
    /// `fc.*`) from `source`.
    public init(weights source: WeightSource, depth: Int, stemStride: Triple3D) throws {
        guard let stages = ResNet3DArchitecture.blocksPerStage[depth] else {
            throw InferenceError.invalidParameter("resnet depth \(depth) is not one of \(ResNet3DArchitecture.blocksPerStage.keys.sorted())")
        }
        self.depth = depth
        self.stemStride = stemStride
        let widths = ResNet3DArchitecture.stageWidths
        stem = try Conv3d.load("conv1", from: source, inChannels: 1, outChannels: widths[0], kernel: ResNet3DArchitecture.stemKernel,
                               stride: stemStride, padding: 3, bias: false, activation: .relu, foldedNorm: "bn1")
        var blocks: [Block] = []
        var inChannels = widths[0]
        for (stage, count) in stages.enumerated() {
            let width = widths[stage]
            for index in 0..<count {
                let prefix = "layer\(stage + 1).\(index)"
                let stride: Triple3D = stage > 0 && index == 0 ? 2 : 1
                let first = try Conv3d.load("\(prefix).conv1", from: source, inChannels: inChannels, outChannels: width, kernel: 3,
                                            stride: stride, padding: 1, bias: false, activation: .relu, foldedNorm: "\(prefix).bn1")
                let second = try Conv3d.load("\(prefix).conv2", from: source, inChannels: width, outChannels: width, kernel: 3,
                                             padding: 1, bias: false, activation: .relu, foldedNorm: "\(prefix).bn2")
                let shortcut = stride != 1 || inChannels != width
                    ? try Conv3d.load("\(prefix).downsample.0", from: source, inChannels: inChannels, outChannels: width, kernel: 1,
                                      stride: stride, bias: true, foldedNorm: "\(prefix).downsample.1")
                    : nil
                blocks.append(Block(first: first, second: second, shortcut: shortcut))
                inChannels = width
            }
        }
        self.blocks = blocks
        head = try Linear(weight: try source.tensor("fc.weight", shape: [1, inChannels]),
                          bias: try source.tensor("fc.bias", shape: [1]))
    }

    /// The logit of one volume [depth][height][width] (one channel): sgemm with BLAS's current thread count, the
    /// convolutions' columns on `threads` threads.
    public func logit(of input: FeatureVolume, threads: Int = 1, workspace: Workspace) -> Float {
        precondition(input.channels == 1, "the 3D ResNet takes one channel")
        let stemSize = stem.outputSize(depth: input.depth, height: input.height, width: input.width)
        let pooledSize = pool.outputSize(depth: stemSize.depth, height: stemSize.height, width: stemSize.width)
        // Two buffers take turns: each block reads one and writes the other (its second convolution accumulates
        // onto the shortcut), so a whole pass needs no more than two of `bufferSize`.
        let size = bufferSize(stem: stemSize, pooled: pooledSize)
        var current = workspace.floats(size)
        var spare = workspace.floats(size)
        var x = FeatureVolume(data: current, channels: stem.outChannels, depth: pooledSize.depth,
                              height: pooledSize.height, width: pooledSize.width)
        pooledStem(input, into: x, slab: spare, slabCapacity: size, threads: threads, workspace: workspace)
        for block in blocks {
            let size = block.first.outputSize(depth: x.depth, height: x.height, width: x.width)
            let y = FeatureVolume(data: spare, channels: block.first.outChannels, depth: size.depth, height: size.height, width: size.width)
            block.first.apply(x, into: y, threads: threads, workspace: workspace)
            var output = x
            if let shortcut = block.shortcut {
                output = FeatureVolume(data: spare + y.count, channels: y.channels, depth: y.depth, height: y.height, width: y.width)
                shortcut.apply(x, into: output, threads: threads, workspace: workspace)
                swap(&current, &spare)  // y and the output now live in `current`; x's buffer is free
            }
            block.second.apply(y, into: output, accumulate: true, threads: threads, workspace: workspace)
            x = output
        }
        var features = [Float](repeating: 0, count: x.channels)
        Ops.globalAveragePool(FeatureMap(data: x.data, channels: x.channels, height: x.depth, width: x.planeSize), into: &features)
        var logit: Float = 0
        head.apply(input: features, rows: 1, output: &logit)
        return logit
    }

    /// Floats per turn-taking buffer: the largest feature map, a strided block's two outputs (its first
    /// convolution's and its shortcut's, side by side), and the stem planes of one pooled plane.
    private func bufferSize(stem stemSize: (depth: Int, height: Int, width: Int), pooled: (depth: Int, height: Int, width: Int)) -> Int {
        var (channels, d, h, w) = (stem.outChannels, pooled.depth, pooled.height, pooled.width)
        var size = max(channels * d * h * w, pool.kernel.z * stem.outChannels * stemSize.height * stemSize.width)
        for block in blocks {
            (d, h, w) = block.first.outputSize(depth: d, height: h, width: w)
            channels = block.first.outChannels
            size = max(size, channels * d * h * w * (block.shortcut == nil ? 1 : 2))
        }
        return size
    }

    /// The stem (conv + BN + ReLU) and its max-pool, slab by slab of output planes: the stem's full output (2.9 GB
    /// at 224³) never exists, only the planes one slab of pooled planes needs, in `slab`.
    private func pooledStem(_ input: FeatureVolume, into output: FeatureVolume, slab: UnsafeMutablePointer<Float>, slabCapacity: Int,
                            threads: Int, workspace: Workspace) {
        let stemSize = stem.outputSize(depth: input.depth, height: input.height, width: input.width)
        let stemPlane = stem.outChannels * stemSize.height * stemSize.width
        // A slab of p pooled planes needs 2p + 1 stem planes (stride 2, window 3).
        let pooledPerSlab = max(1, (slabCapacity / stemPlane - 1) / 2)
        let planeScratch = workspace.floats(max(1, threads) * MaxPool3d.scratchFloats(height: stemSize.height, width: stemSize.width))
        var first = 0
        while first < output.depth {
            let last = min(first + pooledPerSlab, output.depth)
            let needed = pool.window(ofOutputPlane: first, depth: stemSize.depth).lowerBound
                ..< pool.window(ofOutputPlane: last - 1, depth: stemSize.depth).upperBound
            let stemSlab = FeatureVolume(data: slab, channels: stem.outChannels, depth: needed.count,
                                         height: stemSize.height, width: stemSize.width)
            stem.apply(input, into: stemSlab, planes: needed, outputOrigin: needed.lowerBound, threads: threads, workspace: workspace)
            pool.apply(stemSlab, inputOrigin: needed.lowerBound, depth: stemSize.depth, planes: first..<last, into: output,
                       threads: threads, scratch: planeScratch)
            first = last
        }
    }
}
