#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element-wise activations, as PyTorch defines them (GELU is the exact erf form).
public enum Activation: Sendable, Equatable {
    case identity, relu, silu, gelu, sigmoid

    /// v ← activation(v + shift) for `count` values: a bias and the activation in one pass. SiLU and sigmoid
    /// take `VectorMath`'s vectorised exp (the one exp path for activations).
    public func apply(_ values: UnsafeMutablePointer<Float>, count: Int, shift: Float = 0) {
        switch self {
        case .identity:
            if shift != 0 { for i in 0..<count { values[i] += shift } }
        case .relu:
            VectorMath.relu(values, count: count, shift: shift)
        case .silu:
            VectorMath.silu(values, count: count, shift: shift)
        case .gelu:
            for i in 0..<count { let v = values[i] + shift; values[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
        case .sigmoid:
            VectorMath.sigmoid(values, count: count, shift: shift)
        }
    }
}

/// A pooling window's geometry, shared by max and average pooling.
public struct PoolWindow: Sendable {
    public let kernel: Pair2D, stride: Pair2D, padding: Pair2D
    public let ceilMode: Bool

    public init(kernel: Pair2D, stride: Pair2D? = nil, padding: Pair2D = 0, ceilMode: Bool = false) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.ceilMode = ceilMode
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        (pooledSize(height, kernel: kernel.y, stride: stride.y, padding: padding.y),
         pooledSize(width, kernel: kernel.x, stride: stride.x, padding: padding.x))
    }

    /// PyTorch's pooling output size, including ceil_mode's rule that the last window must start inside the
    /// input or its left padding.
    private func pooledSize(_ size: Int, kernel: Int, stride: Int, padding: Int) -> Int {
        let span = size + 2 * padding - kernel
        var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode && (out - 1) * stride >= size + padding { out -= 1 }
        return out
    }
}

/// Max pooling (padding counts as −∞).
public struct MaxPool2d: Sendable {
    public let window: PoolWindow

    public init(kernel: Pair2D, stride: Pair2D? = nil, padding: Pair2D = 0, ceilMode: Bool = false) {
        window = PoolWindow(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        window.outputSize(height: height, width: width)
    }

    /// Every plane of `input` → the output's planes, same layout; returns the output's feature map.
    @discardableResult
    public func apply(_ input: FeatureMap, into output: UnsafeMutablePointer<Float>) -> FeatureMap {
        let (height, width) = (input.height, input.width)
        let (oh, ow) = outputSize(height: height, width: width)
        let (kernel, stride, padding) = (window.kernel, window.stride, window.padding)
        for c in 0..<(input.channels * input.batch) {
            let src = input.data + c * height * width, dst = output + c * oh * ow
            for oy in 0..<oh {
                let y0 = max(oy * stride.y - padding.y, 0), y1 = min(oy * stride.y - padding.y + kernel.y, height)
                for ox in 0..<ow {
                    let x0 = max(ox * stride.x - padding.x, 0), x1 = min(ox * stride.x - padding.x + kernel.x, width)
                    var best = -Float.infinity
                    for y in y0..<y1 { for x in x0..<x1 { best = max(best, src[y * width + x]) } }
                    dst[oy * ow + ox] = best
                }
            }
        }
        return FeatureMap(data: output, channels: input.channels, batch: input.batch, height: oh, width: ow)
    }
}

/// Average pooling with PyTorch's ceil_mode and count_include_pad rules.
public struct AvgPool2d: Sendable {
    public let window: PoolWindow
    public let countIncludePad: Bool

    public init(kernel: Pair2D, stride: Pair2D? = nil, padding: Pair2D = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
        window = PoolWindow(kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
        self.countIncludePad = countIncludePad
    }

    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        window.outputSize(height: height, width: width)
    }

    /// Every plane of `input` → the output's planes, same layout; returns the output's feature map.
    @discardableResult
    public func apply(_ input: FeatureMap, into output: UnsafeMutablePointer<Float>) -> FeatureMap {
        let (height, width) = (input.height, input.width)
        let (oh, ow) = outputSize(height: height, width: width)
        let (kernel, stride, padding) = (window.kernel, window.stride, window.padding)
        // Whole 2×2 windows (ECA-NFNet's shortcuts, DenseNet's transitions): the sum in the general loop's order.
        let wholeTwoByTwo = kernel == 2 && stride == 2 && padding == 0 && height == 2 * oh && width == 2 * ow
        for c in 0..<(input.channels * input.batch) {
            let src = input.data + c * height * width, dst = output + c * oh * ow
            if wholeTwoByTwo {
                for oy in 0..<oh {
                    let top = src + 2 * oy * width, bottom = top + width, row = dst + oy * ow
                    for ox in 0..<ow {
                        row[ox] = (0 + top[2 * ox] + top[2 * ox + 1] + bottom[2 * ox] + bottom[2 * ox + 1]) / 4
                    }
                }
                continue
            }
            for oy in 0..<oh {
                // The window clipped to the padded input decides count_include_pad's divisor.
                let py0 = oy * stride.y - padding.y, py1 = min(py0 + kernel.y, height + padding.y)
                let y0 = max(py0, 0), y1 = min(py1, height)
                for ox in 0..<ow {
                    let px0 = ox * stride.x - padding.x, px1 = min(px0 + kernel.x, width + padding.x)
                    let x0 = max(px0, 0), x1 = min(px1, width)
                    var sum: Float = 0
                    for y in y0..<y1 { for x in x0..<x1 { sum += src[y * width + x] } }
                    let divisor = countIncludePad ? (py1 - py0) * (px1 - px0) : (y1 - y0) * (x1 - x0)
                    dst[oy * ow + ox] = sum / Float(divisor)
                }
            }
        }
        return FeatureMap(data: output, channels: input.channels, batch: input.batch, height: oh, width: ow)
    }
}

/// Ops without parameters, on feature maps in any layout (one image or a channel-major batch).
public enum Ops {
    /// The mean of every plane: output[c · batch + b] for channel c of image b.
    public static func globalAveragePool(_ input: FeatureMap, into output: UnsafeMutablePointer<Float>) {
        let planeSize = input.planeSize
        for p in 0..<(input.channels * input.batch) {
            var sum: Float = 0
            let src = input.data + p * planeSize
            for i in 0..<planeSize { sum += src[i] }
            output[p] = sum / Float(planeSize)
        }
    }

    /// Nearest-neighbour 2× upsampling of every plane; returns the output's feature map.
    @discardableResult
    public static func upsampleNearest2x(_ input: FeatureMap, into output: UnsafeMutablePointer<Float>) -> FeatureMap {
        let (height, width) = (input.height, input.width)
        let ow = 2 * width
        for p in 0..<(input.channels * input.batch) {
            let src = input.data + p * height * width, dst = output + p * 4 * height * width
            for y in 0..<height {
                let row = dst + 2 * y * ow
                for x in 0..<width { let v = src[y * width + x]; row[2 * x] = v; row[2 * x + 1] = v }
                (row + ow).update(from: row, count: ow)
            }
        }
        return FeatureMap(data: output, channels: input.channels, batch: input.batch, height: 2 * height, width: ow)
    }

    /// Concatenation along channels of feature maps with equal batch, height and width. Channel-major, that is
    /// the parts one after another.
    @discardableResult
    public static func concatChannels(_ parts: [FeatureMap], into output: UnsafeMutablePointer<Float>) -> FeatureMap {
        guard let first = parts.first else { preconditionFailure("concat of no feature maps") }
        var offset = 0
        for part in parts {
            precondition(part.batch == first.batch && part.height == first.height && part.width == first.width,
                         "concat of feature maps of different sizes")
            (output + offset).update(from: part.data, count: part.count)
            offset += part.count
        }
        return FeatureMap(data: output, channels: parts.reduce(0) { $0 + $1.channels }, batch: first.batch,
                          height: first.height, width: first.width)
    }
}

/// y = x Wᵀ + b with W [out, in] (PyTorch's Linear).
public struct Linear: Sendable {
    public let weight: [Float]
    public let bias: [Float]?
    public let inFeatures: Int
    public let outFeatures: Int

    public init(weight: Tensor, bias: Tensor? = nil) throws {
        guard weight.shape.count == 2 else {
            throw InferenceError.shapeMismatch(what: "linear weight", expected: [-1, -1], found: weight.shape)
        }
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        if let bias, bias.shape != [outFeatures] {
            throw InferenceError.shapeMismatch(what: "linear bias", expected: [outFeatures], found: bias.shape)
        }
        self.weight = weight.storage
        self.bias = bias?.storage
    }

    /// rows × inFeatures → rows × outFeatures.
    public func apply(input: UnsafePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            BLAS.sgemm(transposeB: true, m: rows, n: outFeatures, k: inFeatures,
                       a: input, lda: inFeatures, b: w.baseAddress!, ldb: inFeatures, c: output, ldc: outFeatures)
        }
        if let bias {
            for r in 0..<rows { for o in 0..<outFeatures { output[r * outFeatures + o] += bias[o] } }
        }
    }
}
