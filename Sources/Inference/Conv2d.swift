/// A (height, width) pair for kernel sizes, strides, paddings and dilations; an integer literal means both.
public struct Pair2D: Sendable, Equatable, ExpressibleByIntegerLiteral {
    public var y: Int
    public var x: Int
    public init(_ y: Int, _ x: Int) { self.y = y; self.x = x }
    public init(integerLiteral value: Int) { self.init(value, value) }
}

/// Batch normalisation in inference form: y = x · scale + shift per channel.
public struct BatchNorm: Sendable {
    public let scale: [Float]
    public let shift: [Float]

    /// From PyTorch's BatchNorm2d parameters (weight, bias, running_mean, running_var, eps).
    public init(weight: [Float], bias: [Float], runningMean: [Float], runningVar: [Float], eps: Double = 1e-5) throws {
        let channels = weight.count
        guard bias.count == channels, runningMean.count == channels, runningVar.count == channels else {
            throw InferenceError.shapeMismatch(
                what: "batch norm parameters", expected: [channels],
                found: [bias.count, runningMean.count, runningVar.count])
        }
        var scale = [Float](repeating: 0, count: channels)
        var shift = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            let s = Double(weight[c]) / (Double(runningVar[c]) + eps).squareRoot()
            scale[c] = Float(s)
            shift[c] = Float(Double(bias[c]) - Double(runningMean[c]) * s)
        }
        self.scale = scale
        self.shift = shift
    }

    public var channels: Int { scale.count }

    /// out[c] = activation(in[c] · scale[c] + shift[c]) for every channel's planes (input's channels must be
    /// this norm's); returns the output's feature map.
    @discardableResult
    public func apply(_ input: FeatureMap, into output: UnsafeMutablePointer<Float>, activation: Activation = .identity) -> FeatureMap {
        precondition(input.channels == channels, "batch norm of \(channels) channels on \(input.channels)")
        let count = input.batch * input.planeSize
        for c in 0..<channels {
            let s = scale[c], t = shift[c]
            let src = input.channel(c), dst = output + c * count
            for i in 0..<count { dst[i] = src[i] * s + t }
            activation.apply(dst, count: count)
        }
        return FeatureMap(data: output, channels: channels, batch: input.batch, height: input.height, width: input.width)
    }
}

/// 2-D convolution (PyTorch's Conv2d semantics) with an optional fused per-channel epilogue.
/// Weights are [out, in/groups, kh, kw]. One entry point, `apply`, over a feature map of one image or a
/// channel-major batch: im2col + sgemm per group over the whole batch, where a grouped 1×1 stride-1 unpadded
/// convolution is the GEMM on the input itself; for an ungrouped one, CKernels' packed GEMM on the input itself
/// (`PointwiseConvolution`); or, where the model asks for it (`preferWinograd`) and the convolution
/// allows it (3×3, stride 1, pad 1), Winograd F(4×4, 3×3), keeping only the kernels (their transform is made when
/// used): for small groups (≤ 64 channels in and out, grouped or not) over the batch's tiles at once
/// (`GroupedWinograd3x3`), else, ungrouped, image by image (`Winograd3x3`); or, for a grouped or stride-2 3×3 whose
/// groups have 32-multiple outputs, CKernels' direct kernel (`GroupedConvolution3x3`). Temporary memory comes
/// from the caller's `Workspace`.
public struct Conv2d: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Pair2D
    public let stride: Pair2D
    public let padding: Pair2D
    public let dilation: Pair2D
    public let groups: Int
    public private(set) var bias: [Float]?
    /// Applied after the bias, fused into the output pass.
    public let activation: Activation
    private var weights: Weights

    /// The weights in the one form `apply` uses (the Winograd transform is 4× the kernels' size: a UNet++'s took
    /// 400 MB, so it is made in scratch when used).
    private enum Weights: Sendable {
        /// As loaded, [out, in/groups, kh, kw], for im2col + GEMM.
        case direct([Float])
        case winograd(Winograd3x3)
        /// Packed for the direct 3×3 kernel (grouped or stride 2, 32-multiple output groups: `GroupedConvolution3x3`).
        case grouped3x3(GroupedConvolution3x3)
        /// Winograd for small groups, grouped or not (`GroupedWinograd3x3`).
        case groupedWinograd(GroupedWinograd3x3)
        /// Packed for CKernels' GEMM, for an ungrouped 1×1 stride-1 unpadded convolution (`PointwiseConvolution`).
        case pointwise(PointwiseConvolution)
    }

    public init(
        weight: Tensor, bias: Tensor? = nil,
        stride: Pair2D = 1, padding: Pair2D = 0, dilation: Pair2D = 1, groups: Int = 1,
        activation: Activation = .identity, folding norm: BatchNorm? = nil, preferWinograd: Bool = false
    ) throws {
        guard weight.shape.count == 4 else {
            throw InferenceError.shapeMismatch(what: "conv weight", expected: [-1, -1, -1, -1], found: weight.shape)
        }
        let out = weight.shape[0]
        guard groups >= 1, out % groups == 0 else {
            throw InferenceError.invalidParameter("conv: \(out) output channels not divisible into \(groups) groups")
        }
        guard stride.y >= 1, stride.x >= 1, dilation.y >= 1, dilation.x >= 1, padding.y >= 0, padding.x >= 0 else {
            throw InferenceError.invalidParameter("conv: stride and dilation must be ≥ 1, padding ≥ 0")
        }
        if let bias, bias.shape != [out] {
            throw InferenceError.shapeMismatch(what: "conv bias", expected: [out], found: bias.shape)
        }
        self.inChannels = weight.shape[1] * groups
        self.outChannels = out
        self.kernel = Pair2D(weight.shape[2], weight.shape[3])
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.activation = activation
        var raw = weight.storage
        self.bias = bias?.storage
        if let norm {
            try norm.checkFolds(into: out)
            norm.scaleRows(of: &raw)
            self.bias = norm.folded(bias: self.bias)
        }
        // Winograd rounds a little more than a direct sum and pays off on large planes image by image (at 14×14
        // in a batch, one GEMM over the batch's im2col columns is wider), so the model chooses it.
        let isWinogradEligible = kernel == 3 && stride == 1 && padding == 1 && dilation == 1 && groups == 1
        if preferWinograd && GroupedWinograd3x3.fits(kernel: kernel, stride: stride, padding: padding, dilation: dilation,
                                                     inChannels: inChannels, outChannels: out, groups: groups) {
            weights = .groupedWinograd(GroupedWinograd3x3(weight: raw, inChannels: inChannels, outChannels: out, groups: groups))
        } else if preferWinograd && isWinogradEligible {
            weights = .winograd(Winograd3x3(weight: raw, inChannels: inChannels, outChannels: outChannels))
        } else if GroupedConvolution3x3.fits(kernel: kernel, stride: stride, padding: padding, dilation: dilation,
                                             groups: groups, outChannels: out) {
            weights = .grouped3x3(GroupedConvolution3x3(weight: raw, inChannels: inChannels, outChannels: out,
                                                        groups: groups, stride: stride.y))
        } else if kernel == 1 && stride == 1 && padding == 0 && groups == 1 {
            weights = .pointwise(PointwiseConvolution(weight: raw, outChannels: out))
        } else {
            weights = .direct(raw)
        }
    }

    /// Folds a batch norm that follows this convolution into its weights and bias (done once, at load).
    public mutating func fold(_ norm: BatchNorm) throws {
        try norm.checkFolds(into: outChannels)
        switch weights {
        case .direct(var raw):
            weights = .direct([])  // the only reference, so scaling does not copy
            norm.scaleRows(of: &raw)
            weights = .direct(raw)
        case .winograd(var winograd):
            weights = .direct([])
            winograd.scaleOutputs(by: norm.scale)
            weights = .winograd(winograd)
        case .grouped3x3(var grouped):
            weights = .direct([])
            grouped.scaleOutputs(by: norm.scale)
            weights = .grouped3x3(grouped)
        case .groupedWinograd(var grouped):
            weights = .direct([])
            grouped.scaleOutputs(by: norm.scale)
            weights = .groupedWinograd(grouped)
        case .pointwise(var pointwise):
            weights = .direct([])
            pointwise.scaleOutputs(by: norm.scale)
            weights = .pointwise(pointwise)
        }
        bias = norm.folded(bias: bias)
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let h = (height + 2 * padding.y - dilation.y * (kernel.y - 1) - 1) / stride.y + 1
        let w = (width + 2 * padding.x - dilation.x * (kernel.x - 1) - 1) / stride.x + 1
        return (h, w)
    }

    private var isPointwise: Bool {
        kernel == 1 && stride == 1 && padding == 0
    }

    /// input [inChannels][batch][height][width] → output [outChannels][batch][oh][ow], bias and activation fused;
    /// returns the output's feature map.
    @discardableResult
    public func apply(_ input: FeatureMap, into output: UnsafeMutablePointer<Float>, workspace: Workspace) -> FeatureMap {
        precondition(input.channels == inChannels, "convolution of \(inChannels) channels on \(input.channels)")
        let (oh, ow) = outputSize(height: input.height, width: input.width)
        let result = FeatureMap(data: output, channels: outChannels, batch: input.batch, height: oh, width: ow)
        switch weights {
        case .winograd(let winograd):
            // Image b's channel planes lie batch planes apart in the channel-major layout.
            let plane = input.planeSize, channelStride = input.batch * plane
            for b in 0..<input.batch {
                winograd.apply(input: input.data + b * plane, height: input.height, width: input.width, channelStride: channelStride,
                               output: output + b * plane, bias: bias, activation: activation, workspace: workspace)
            }
        case .grouped3x3(let grouped):
            grouped.apply(input, into: result, bias: bias, activation: activation, workspace: workspace)
        case .groupedWinograd(let grouped):
            grouped.apply(input, into: result, bias: bias, activation: activation, workspace: workspace)
        case .pointwise(let pointwise):
            pointwise.apply(input, into: output, bias: bias, activation: activation, threads: Parallel.threadsForOneItem,
                            workspace: workspace)
        case .direct(let weight):
            convolveByGEMM(input, weight: weight, into: result, workspace: workspace)
            finish(output, planeSize: input.batch * oh * ow)
        }
        return result
    }

    /// Per group, one GEMM [outPerGroup × k] · [k × batch·oh·ow], the columns built by im2col (rows (c, ky, kx),
    /// each the batch's planes side by side) or, for a pointwise convolution, the input itself.
    private func convolveByGEMM(_ input: FeatureMap, weight: [Float], into output: FeatureMap, workspace: Workspace) {
        let (height, width, batch) = (input.height, input.width, input.batch)
        let (oh, ow) = (output.height, output.width)
        let columnsPerImage = oh * ow, n = batch * columnsPerImage
        let inPerGroup = inChannels / groups, outPerGroup = outChannels / groups
        let k = inPerGroup * kernel.y * kernel.x
        let buffer = isPointwise ? nil : workspace.scratch(Workspace.convolutionSlot, count: k * n)
        let patchRows = PatchRows(stride: stride, padding: padding, dilation: dilation)
        weight.withUnsafeBufferPointer { w in
            for g in 0..<groups {
                let groupInput = UnsafePointer(input.channel(g * inPerGroup))
                var columns = groupInput
                if let buffer {
                    var row = buffer
                    for c in 0..<inPerGroup {
                        for ky in 0..<kernel.y {
                            for kx in 0..<kernel.x {
                                for b in 0..<batch {
                                    let plane = groupInput + (c * batch + b) * height * width
                                    patchRows.gather(plane, height: height, width: width, ky: ky, kx: kx,
                                                     outputHeight: oh, outputWidth: ow, into: row + b * columnsPerImage)
                                }
                                row += n
                            }
                        }
                    }
                    columns = UnsafePointer(buffer)
                }
                BLAS.sgemm(m: outPerGroup, n: n, k: k, a: w.baseAddress! + g * outPerGroup * k, lda: k,
                           b: columns, ldb: n, c: output.channel(g * outPerGroup), ldc: n)
            }
        }
    }

    /// Bias and activation over the output planes, fused in one pass per channel (the Winograd form does it
    /// itself, on each band of output rows while it is in the cache); channels split over
    /// `Parallel.threadsForOneItem`.
    private func finish(_ output: UnsafeMutablePointer<Float>, planeSize: Int) {
        let output = SendablePointer(output)
        Parallel.split(outChannels, unitWork: planeSize, threads: Parallel.threadsForOneItem) { channels in
            for o in channels { activation.apply(output.pointer + o * planeSize, count: planeSize, shift: bias?[o] ?? 0) }
        }
    }
}

extension Conv2d {
    /// PyTorch's Conv2d weight (and bias) under `prefix`, with `outChannels`, `inChannels / groups`, kernel; with
    /// `foldedNorm`, the BatchNorm2d under that prefix that follows the convolution is folded in.
    public static func load(
        _ prefix: String, from source: WeightSource, inChannels: Int, outChannels: Int, kernel: Int,
        stride: Pair2D = 1, padding: Pair2D = 0, groups: Int = 1, bias: Bool, activation: Activation = .identity,
        foldedNorm: String? = nil, preferWinograd: Bool = false
    ) throws -> Conv2d {
        let weight = try source.tensor("\(prefix).weight", shape: [outChannels, inChannels / groups, kernel, kernel])
        let biasTensor = bias ? try source.tensor("\(prefix).bias", shape: [outChannels]) : nil
        let norm = try foldedNorm.map { try source.batchNorm($0, channels: outChannels) }
        return try Conv2d(weight: weight, bias: biasTensor, stride: stride, padding: padding, groups: groups,
                          activation: activation, folding: norm, preferWinograd: preferWinograd)
    }
}
