import Foundation

/// A (depth, height, width) triple for 3D kernel sizes, strides and paddings; an integer literal means all three.
public struct Triple3D: Sendable, Equatable, ExpressibleByIntegerLiteral {
    public var z: Int
    public var y: Int
    public var x: Int
    public init(_ z: Int, _ y: Int, _ x: Int) { self.z = z; self.y = y; self.x = x }
    public init(integerLiteral value: Int) { self.init(value, value, value) }
    /// The in-plane (height, width) part.
    public var plane: Pair2D { Pair2D(y, x) }
}

/// The operand of the 3D ops: the volumes of `channels` channels in memory owned elsewhere, channel-major,
/// [channels][depth][height][width] (PyTorch's NCDHW for one volume).
public struct FeatureVolume {
    public let data: UnsafeMutablePointer<Float>
    public let channels: Int
    public let depth: Int
    public let height: Int
    public let width: Int

    public init(data: UnsafeMutablePointer<Float>, channels: Int, depth: Int, height: Int, width: Int) {
        self.data = data
        self.channels = channels
        self.depth = depth
        self.height = height
        self.width = width
    }

    public var planeSize: Int { height * width }
    public var volumeSize: Int { depth * planeSize }
    public var count: Int { channels * volumeSize }
    /// The volume of channel `c`.
    public func channel(_ c: Int) -> UnsafeMutablePointer<Float> { data + c * volumeSize }
}

/// 3-D convolution (PyTorch's Conv3d semantics, dilation 1, no groups) with a fused per-channel epilogue; weights
/// [out, in, kd, kh, kw]. It runs on the 2-D convolution's core: the columns of a block of output depth planes
/// are built from the same in-plane patch rows as `Conv2d`'s im2col (one per input plane the tap meets, zeros
/// where it meets the depth padding), then one sgemm [out × k] · [k × planes·oh·ow] writes the block straight
/// into the output. Blocks are sized so that the columns stay within `columnBudget` floats, which bounds the
/// scratch memory of large volumes (a 224³ stem would need 17 GB of columns at once).
public struct Conv3d: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Triple3D
    public let stride: Triple3D
    public let padding: Triple3D
    public private(set) var weight: [Float]
    public private(set) var bias: [Float]?
    /// Applied after the bias (and after any accumulated addend), fused into the output pass.
    public let activation: Activation
    /// The most floats of columns built at once (at least one output plane's).
    public static let columnBudget = 1 << 24

    public init(
        weight: Tensor, bias: Tensor? = nil, stride: Triple3D = 1, padding: Triple3D = 0,
        activation: Activation = .identity, folding norm: BatchNorm? = nil
    ) throws {
        guard weight.shape.count == 5 else {
            throw InferenceError.shapeMismatch(what: "conv3d weight", expected: [-1, -1, -1, -1, -1], found: weight.shape)
        }
        guard stride.z >= 1, stride.y >= 1, stride.x >= 1, padding.z >= 0, padding.y >= 0, padding.x >= 0 else {
            throw InferenceError.invalidParameter("conv3d: stride must be ≥ 1, padding ≥ 0")
        }
        let out = weight.shape[0]
        if let bias, bias.shape != [out] {
            throw InferenceError.shapeMismatch(what: "conv3d bias", expected: [out], found: bias.shape)
        }
        outChannels = out
        inChannels = weight.shape[1]
        kernel = Triple3D(weight.shape[2], weight.shape[3], weight.shape[4])
        self.stride = stride
        self.padding = padding
        self.weight = weight.storage
        self.bias = bias?.storage
        self.activation = activation
        if let norm { (self.weight, self.bias) = try norm.folded(intoWeight: self.weight, bias: self.bias, outChannels: out) }
    }

    public func outputSize(depth: Int, height: Int, width: Int) -> (depth: Int, height: Int, width: Int) {
        func size(_ n: Int, _ k: Int, _ s: Int, _ p: Int) -> Int { (n + 2 * p - k) / s + 1 }
        return (size(depth, kernel.z, stride.z, padding.z), size(height, kernel.y, stride.y, padding.y),
                size(width, kernel.x, stride.x, padding.x))
    }

    /// Output depth planes `planes` (default all) of the convolution of `input`, written to `output`, whose plane 0
    /// is output plane `outputOrigin` (so a slab of the output can live in a smaller buffer). With `accumulate`,
    /// the result is added to what `output` holds (a residual's shortcut) before the bias and activation. The
    /// columns are built on `threads` threads (sgemm threads itself, as `BLAS.threadCount` says).
    public func apply(
        _ input: FeatureVolume, into output: FeatureVolume, planes: Range<Int>? = nil, outputOrigin: Int = 0,
        accumulate: Bool = false, threads: Int = 1, workspace: Workspace
    ) {
        precondition(input.channels == inChannels, "conv3d of \(inChannels) channels on \(input.channels)")
        let size = outputSize(depth: input.depth, height: input.height, width: input.width)
        precondition(output.channels == outChannels && output.height == size.height && output.width == size.width,
                     "conv3d output of the wrong size")
        let planes = planes ?? 0..<size.depth
        precondition(planes.lowerBound >= outputOrigin && planes.upperBound - outputOrigin <= output.depth,
                     "conv3d planes outside the output buffer")
        let planeSize = size.height * size.width
        let k = inChannels * kernel.z * kernel.y * kernel.x
        let block = max(1, min(planes.count, Self.columnBudget / max(1, k * planeSize)))
        let columns = workspace.scratch(Workspace.convolutionSlot, count: k * block * planeSize)
        weight.withUnsafeBufferPointer { w in
            var first = planes.lowerBound
            while first < planes.upperBound {
                let last = min(first + block, planes.upperBound)
                let n = (last - first) * planeSize
                buildColumns(input, planes: first..<last, outputHeight: size.height, outputWidth: size.width, into: columns,
                             threads: threads)
                let destination = output.data + (first - outputOrigin) * planeSize
                BLAS.sgemm(m: outChannels, n: n, k: k, a: w.baseAddress!, lda: k, b: columns, ldb: n,
                           beta: accumulate ? 1 : 0, c: destination, ldc: output.volumeSize)
                for o in 0..<outChannels {
                    activation.apply(destination + o * output.volumeSize, count: n, shift: bias?[o] ?? 0)
                }
                first = last
            }
        }
    }

    /// The columns of output planes `planes`: row (c, kz, ky, kx) holds, plane after plane, the in-plane patch row
    /// of tap (ky, kx) on input plane oz·stride − padding + kz of channel c. The rows of each (c, kz) are one task;
    /// `threads` threads share the tasks.
    private func buildColumns(
        _ input: FeatureVolume, planes: Range<Int>, outputHeight: Int, outputWidth: Int, into columns: UnsafeMutablePointer<Float>,
        threads: Int
    ) {
        let planeSize = outputHeight * outputWidth, n = planes.count * planeSize
        let inPlane = PatchRows(stride: stride.plane, padding: padding.plane, dilation: 1)
        let tasks = inChannels * kernel.z
        let (source, destination) = (SendablePointer(input.data), SendablePointer(columns))
        let (depth, height, width) = (input.depth, input.height, input.width)
        let (kernel, stride, padding) = (kernel, stride, padding)
        @Sendable func build(_ task: Int) {
            let (c, kz) = task.quotientAndRemainder(dividingBy: kernel.z)
            let volume = UnsafePointer(source.pointer + c * depth * height * width)
            var row = destination.pointer + task * kernel.y * kernel.x * n
            for ky in 0..<kernel.y {
                for kx in 0..<kernel.x {
                    for (index, oz) in planes.enumerated() {
                        let iz = oz * stride.z - padding.z + kz
                        let target = row + index * planeSize
                        if iz < 0 || iz >= depth {
                            target.update(repeating: 0, count: planeSize)
                        } else {
                            inPlane.gather(volume + iz * height * width, height: height, width: width, ky: ky, kx: kx,
                                           outputHeight: outputHeight, outputWidth: outputWidth, into: target)
                        }
                    }
                    row += n
                }
            }
        }
        let workers = max(1, min(threads, tasks))
        if workers == 1 {
            for task in 0..<tasks { build(task) }
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for task in Swift.stride(from: worker, to: tasks, by: workers) { build(task) }
            }
        }
    }
}

extension Conv3d {
    /// PyTorch's Conv3d weight (and bias) under `prefix`, a cubic kernel; with `foldedNorm`, the BatchNorm3d under
    /// that prefix that follows the convolution is folded in.
    public static func load(
        _ prefix: String, from source: WeightSource, inChannels: Int, outChannels: Int, kernel: Int,
        stride: Triple3D = 1, padding: Triple3D = 0, bias: Bool, activation: Activation = .identity, foldedNorm: String? = nil
    ) throws -> Conv3d {
        let weight = try source.tensor("\(prefix).weight", shape: [outChannels, inChannels, kernel, kernel, kernel])
        let biasTensor = bias ? try source.tensor("\(prefix).bias", shape: [outChannels]) : nil
        let norm = try foldedNorm.map { try source.batchNorm($0, channels: outChannels) }
        return try Conv3d(weight: weight, bias: biasTensor, stride: stride, padding: padding, activation: activation, folding: norm)
    }
}

/// 3-D max pooling (padding counts as −∞) on the 2-D pool: per output plane, the element-wise maximum of the
/// input planes its depth window meets, then `MaxPool2d` over that plane.
public struct MaxPool3d: Sendable {
    public let kernel: Triple3D
    public let stride: Triple3D
    public let padding: Triple3D
    private let inPlane: MaxPool2d

    public init(kernel: Triple3D, stride: Triple3D, padding: Triple3D = 0) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        inPlane = MaxPool2d(kernel: kernel.plane, stride: stride.plane, padding: padding.plane)
    }

    public func outputSize(depth: Int, height: Int, width: Int) -> (depth: Int, height: Int, width: Int) {
        let plane = inPlane.outputSize(height: height, width: width)
        return ((depth + 2 * padding.z - kernel.z) / stride.z + 1, plane.height, plane.width)
    }

    /// The input planes output plane `plane` pools, for an input of `depth` planes.
    public func window(ofOutputPlane plane: Int, depth: Int) -> Range<Int> {
        let start = plane * stride.z - padding.z
        return max(0, start)..<min(depth, start + kernel.z)
    }

    /// Output planes `planes` of pooling a volume of `depth` planes, of which `input` holds the slab starting at
    /// plane `inputOrigin` (it must hold every plane their windows meet); `output`'s plane 0 is output plane 0.
    /// `plane` is scratch for one input plane.
    public func apply(
        _ input: FeatureVolume, inputOrigin: Int, depth: Int, planes: Range<Int>, into output: FeatureVolume,
        plane scratch: UnsafeMutablePointer<Float>
    ) {
        let planeSize = input.planeSize
        for c in 0..<input.channels {
            let source = input.channel(c)
            for p in planes {
                let window = window(ofOutputPlane: p, depth: depth)
                precondition(window.lowerBound >= inputOrigin && window.upperBound - inputOrigin <= input.depth,
                             "max-pool window outside the input slab")
                scratch.update(from: source + (window.lowerBound - inputOrigin) * planeSize, count: planeSize)
                for z in window.dropFirst() {
                    let other = source + (z - inputOrigin) * planeSize
                    for i in 0..<planeSize { scratch[i] = max(scratch[i], other[i]) }
                }
                inPlane.apply(FeatureMap(data: scratch, channels: 1, height: input.height, width: input.width),
                              into: output.channel(c) + p * output.planeSize)
            }
        }
    }
}
