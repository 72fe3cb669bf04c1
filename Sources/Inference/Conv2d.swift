/// A (height, width) pair for kernel sizes, strides, paddings and dilations; an integer literal means both.
public struct Pair2D: Sendable, Equatable, ExpressibleByIntegerLiteral {
    public var y: Int
    public var x: Int
    public init(_ y: Int, _ x: Int) { self.y = y; self.x = x }
    public init(integerLiteral value: Int) { self.init(value, value) }
}

/// Per-thread scratch memory (im2col columns, padded copies), grown on demand and reused across calls.
public final class Scratch {
    private var buffer = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    public init() {}
    deinit { buffer.deallocate() }

    /// At least `count` floats; valid until the next call.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if buffer.count < count {
            buffer.deallocate()
            buffer = .allocate(capacity: count)
        }
        return buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: 16)!  // count 0: never dereferenced
    }
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

    /// out[c, i] = activation(in[c, i] · scale[c] + shift[c]) for one image of `channels` planes of `planeSize`.
    public func apply(
        input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, planeSize: Int,
        activation: Activation = .identity
    ) {
        for c in 0..<channels {
            let s = scale[c], t = shift[c]
            let src = input + c * planeSize, dst = output + c * planeSize
            for i in 0..<planeSize { dst[i] = src[i] * s + t }
            activation.apply(UnsafeMutableBufferPointer(start: dst, count: planeSize))
        }
    }

    /// Tensor form over NCHW.
    public func callAsFunction(_ x: Tensor, activation: Activation = .identity) throws -> Tensor {
        guard x.shape.count == 4, x.shape[1] == channels else {
            throw InferenceError.shapeMismatch(what: "batch norm input", expected: [-1, channels, -1, -1], found: x.shape)
        }
        let (n, c, h, w) = x.nchw
        var y = Tensor(zeros: x.shape)
        guard y.count > 0 else { return y }
        x.storage.withUnsafeBufferPointer { src in
            y.storage.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    apply(input: src.baseAddress! + i * c * h * w, output: dst.baseAddress! + i * c * h * w,
                          planeSize: h * w, activation: activation)
                }
            }
        }
        return y
    }
}

/// 2-D convolution (PyTorch's Conv2d semantics) with an optional fused per-channel epilogue.
/// Weights are [out, in/groups, kh, kw]. Computed per image: a 1×1 stride-1 unpadded convolution is one GEMM on
/// the input, a 3×3 stride-1 pad-1 ungrouped one uses Winograd F(4×4, 3×3) (`Winograd3x3`), anything else
/// im2col + sgemm per group. All take their temporary memory from the caller's `Scratch`.
public struct Conv2d: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Pair2D
    public let stride: Pair2D
    public let padding: Pair2D
    public let dilation: Pair2D
    public let groups: Int
    public private(set) var weight: [Float]
    public private(set) var bias: [Float]?
    /// Applied after the bias, fused into the output pass.
    public var activation: Activation
    /// Winograd form of a 3×3 stride-1 pad-1 ungrouped convolution (nil for every other kind).
    private var winograd: Winograd3x3?

    public init(
        weight: Tensor, bias: Tensor? = nil,
        stride: Pair2D = 1, padding: Pair2D = 0, dilation: Pair2D = 1, groups: Int = 1,
        activation: Activation = .identity, folding norm: BatchNorm? = nil
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
        self.weight = weight.storage
        self.bias = bias?.storage
        self.activation = activation
        if let norm { try foldWeights(norm) }
        prepareFastPath()
    }

    private var isWinogradEligible: Bool {
        kernel == 3 && stride == 1 && padding == 1 && dilation == 1 && groups == 1
    }

    private mutating func prepareFastPath() {
        winograd = isWinogradEligible ? Winograd3x3(weight: weight, inChannels: inChannels, outChannels: outChannels) : nil
    }

    /// Folds a batch norm that follows this convolution into its weights and bias (done once, at load; the
    /// `folding:` initialiser argument does the same without preparing the weights twice).
    public mutating func fold(_ norm: BatchNorm) throws {
        try foldWeights(norm)
        prepareFastPath()
    }

    private mutating func foldWeights(_ norm: BatchNorm) throws {
        guard norm.channels == outChannels else {
            throw InferenceError.shapeMismatch(what: "folded batch norm", expected: [outChannels], found: [norm.channels])
        }
        let perOutput = weight.count / outChannels
        var newBias = [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            let s = norm.scale[o]
            for i in 0..<perOutput { weight[o * perOutput + i] *= s }
            newBias[o] = (bias?[o] ?? 0) * s + norm.shift[o]
        }
        bias = newBias
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        let h = (height + 2 * padding.y - dilation.y * (kernel.y - 1) - 1) / stride.y + 1
        let w = (width + 2 * padding.x - dilation.x * (kernel.x - 1) - 1) / stride.x + 1
        return (h, w)
    }

    private var isPointwise: Bool {
        kernel == 1 && stride == 1 && padding == 0
    }

    /// Scratch floats `apply` needs for one image of this size.
    public func scratchCount(height: Int, width: Int) -> Int {
        if isPointwise { return 0 }
        if winograd != nil {
            return Winograd3x3.scratchCount(inChannels: inChannels, outChannels: outChannels, height: height, width: width)
        }
        let (oh, ow) = outputSize(height: height, width: width)
        return inChannels / groups * kernel.y * kernel.x * oh * ow
    }

    /// One image: input [inChannels, height, width] → output [outChannels, oh, ow].
    public func apply(
        input: UnsafePointer<Float>, height: Int, width: Int,
        output: UnsafeMutablePointer<Float>, scratch: Scratch
    ) {
        let (oh, ow) = outputSize(height: height, width: width)
        let outPlane = oh * ow
        if let winograd {
            winograd.apply(input: input, height: height, width: width, output: output, scratch: scratch)
            finish(output, planeSize: outPlane)
            return
        }
        let inPerGroup = inChannels / groups, outPerGroup = outChannels / groups
        let k = inPerGroup * kernel.y * kernel.x
        weight.withUnsafeBufferPointer { w in
            for g in 0..<groups {
                let groupInput = input + g * inPerGroup * height * width
                let columns: UnsafePointer<Float>
                if isPointwise {
                    columns = groupInput
                } else {
                    let buffer = scratch.floats(k * outPlane)
                    im2col(groupInput, channels: inPerGroup, height: height, width: width, oh: oh, ow: ow, into: buffer)
                    columns = UnsafePointer(buffer)
                }
                BLAS.sgemm(
                    m: outPerGroup, n: outPlane, k: k,
                    a: w.baseAddress! + g * outPerGroup * k, lda: k,
                    b: columns, ldb: outPlane,
                    c: output + g * outPerGroup * outPlane, ldc: outPlane)
            }
        }
        finish(output, planeSize: outPlane)
    }

    /// Bias and activation over the output planes, fused in one pass per plane.
    func finish(_ output: UnsafeMutablePointer<Float>, planeSize: Int) {
        for o in 0..<outChannels {
            activation.apply(output + o * planeSize, count: planeSize, shift: bias?[o] ?? 0)
        }
    }

    /// im2col for one image: row (c, ky, kx) of `columns` holds the values kernel tap (ky, kx) of input channel c
    /// meets at every output position.
    private func im2col(
        _ input: UnsafePointer<Float>, channels: Int, height: Int, width: Int, oh: Int, ow: Int,
        into columns: UnsafeMutablePointer<Float>
    ) {
        var row = columns
        for c in 0..<channels {
            let plane = input + c * height * width
            for ky in 0..<kernel.y {
                for kx in 0..<kernel.x {
                    gatherPatchRow(plane, height: height, width: width, ky: ky, kx: kx, oh: oh, ow: ow, into: row)
                    row += oh * ow
                }
            }
        }
    }

    /// One im2col row for one image plane: the input values that kernel tap (ky, kx) meets at every output
    /// position, oh·ow contiguous floats (zeros where the tap falls in the padding). Both the per-image and the
    /// channel-major paths build their columns from it.
    @inline(__always)
    func gatherPatchRow(
        _ plane: UnsafePointer<Float>, height: Int, width: Int, ky: Int, kx: Int, oh: Int, ow: Int,
        into row: UnsafeMutablePointer<Float>
    ) {
        let xOffset = kx * dilation.x - padding.x
        // Output columns whose input column lies inside the image: ox in [first, last).
        let first = min(ow, max(0, (-xOffset + stride.x - 1) / stride.x))
        let last = max(first, min(ow, (width - xOffset + stride.x - 1) / stride.x))
        for oy in 0..<oh {
            let iy = oy * stride.y - padding.y + ky * dilation.y
            let dst = row + oy * ow
            guard iy >= 0 && iy < height else {
                dst.update(repeating: 0, count: ow)
                continue
            }
            let src = plane + iy * width
            if first > 0 { dst.update(repeating: 0, count: first) }
            if stride.x == 1 {
                (dst + first).update(from: src + first + xOffset, count: last - first)
            } else {
                for ox in first..<last { dst[ox] = src[ox * stride.x + xOffset] }
            }
            if last < ow { (dst + last).update(repeating: 0, count: ow - last) }
        }
    }

    /// Tensor form over NCHW.
    public func callAsFunction(_ x: Tensor, scratch: Scratch = Scratch()) throws -> Tensor {
        guard x.shape.count == 4, x.shape[1] == inChannels else {
            throw InferenceError.shapeMismatch(what: "conv input", expected: [-1, inChannels, -1, -1], found: x.shape)
        }
        let (n, c, h, w) = x.nchw
        let (oh, ow) = outputSize(height: h, width: w)
        guard oh > 0, ow > 0 else {
            throw InferenceError.invalidParameter("conv: input \(h)×\(w) is smaller than the kernel")
        }
        guard n > 0 else { return Tensor(zeros: [0, outChannels, oh, ow]) }
        var y = Tensor(zeros: [n, outChannels, oh, ow])
        x.storage.withUnsafeBufferPointer { src in
            y.storage.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    apply(input: src.baseAddress! + i * c * h * w, height: h, width: w,
                          output: dst.baseAddress! + i * outChannels * oh * ow, scratch: scratch)
                }
            }
        }
        return y
    }
}
