import CKernels
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
/// [out, in, kd, kh, kw]. It runs on the 2-D convolution's core: im2col columns built from the same in-plane patch
/// rows as `Conv2d`'s (one per input plane the tap meets, zeros where it meets the depth padding), multiplied by
/// the weights in CKernels' packed GEMM. The columns never exist whole (a 224³ stem would need 17 GB): a tile of
/// `tileColumns` output positions and `depthBlock` rows of k at a time is built just before the GEMM uses it, so
/// it is still in cache (whole output planes of columns, 86 MB in layer 1 at 112³, cost OpenBLAS a third of its
/// speed), and is the GEMM's B operand as it stands, with no packing pass. The weights are packed once, at load.
public struct Conv3d: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Triple3D
    public let stride: Triple3D
    public let padding: Triple3D
    public private(set) var bias: [Float]?
    /// Applied after the bias (and after any accumulated addend) as the GEMM stores the output: identity or ReLU.
    public let activation: Activation
    /// The weights [out × in·kd·kh·kw], batch norm folded, packed for the GEMM variant `isa`.
    private let packedWeight: [Float]
    /// The instruction set of the GEMM variant the weights are packed for (CKernels' active one at load).
    private let isa: UInt32
    /// Output positions (columns) per tile, a multiple of every variant's nr (48, 16, 8): with `depthBlock` rows,
    /// a tile of 288 kB, within L2 (measured best among 288–768 columns and 64–256 rows).
    static let tileColumns = 384
    /// Rows of k per tile: a strip of the micro-kernel's width stays in L1 while the weights pass over it.
    static let depthBlock = 192

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
        guard activation == .identity || activation == .relu else {
            throw InferenceError.invalidParameter("conv3d: the GEMM's store applies identity or ReLU, not \(activation)")
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
        self.activation = activation
        var raw = weight.storage
        self.bias = bias?.storage
        if let norm { (raw, self.bias) = try norm.folded(intoWeight: raw, bias: self.bias, outChannels: out) }
        let gemm = ck_gemm_active()!
        isa = gemm.pointee.isa.rawValue
        let k = raw.count / max(1, out)
        packedWeight = [Float](unsafeUninitializedCapacity: ck_gemm_packed_count(gemm, out, k)) { packed, count in
            ck_gemm_pack_a(gemm, raw, out, k, packed.baseAddress)
            count = packed.count
        }
    }

    public func outputSize(depth: Int, height: Int, width: Int) -> (depth: Int, height: Int, width: Int) {
        func size(_ n: Int, _ k: Int, _ s: Int, _ p: Int) -> Int { (n + 2 * p - k) / s + 1 }
        return (size(depth, kernel.z, stride.z, padding.z), size(height, kernel.y, stride.y, padding.y),
                size(width, kernel.x, stride.x, padding.x))
    }

    /// Output depth planes `planes` (default all) of the convolution of `input`, written to `output`, whose plane 0
    /// is output plane `outputOrigin` (so a slab of the output can live in a smaller buffer). With `accumulate`,
    /// the result is added to what `output` holds (a residual's shortcut) before the bias and activation.
    /// `threads` threads share the tiles, each building its own columns.
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
        let gemm = UnsafeSendable(ck_gemm_variant(ck_isa(rawValue: isa))!.pointee)
        let k = inChannels * kernel.z * kernel.y * kernel.x
        let n = planes.count * size.height * size.width
        let kBlocks = (k + Self.depthBlock - 1) / Self.depthBlock, blockRows = (k + kBlocks - 1) / kBlocks
        // Each worker takes an even share of strips of nr columns, in tiles of at most `tileColumns`.
        let nr = gemm.value.nr, strips = (n + nr - 1) / nr
        let workers = max(1, min(threads, strips))
        // The GEMM reads up to nr − 1 floats past a tile's last row.
        let tileFloats = blockRows * Self.tileColumns + nr
        let columns = SendablePointer(workspace.scratch(Workspace.convolutionSlot, count: workers * tileFloats))
        let destination = SendablePointer(output.data + (planes.lowerBound - outputOrigin) * size.height * size.width)
        let ldc = output.volumeSize, relu: Int32 = activation == .relu ? 1 : 0
        let geometry = TileGeometry(input: input, planes: planes, outputHeight: size.height, outputWidth: size.width,
                                    kernel: kernel, stride: stride, padding: padding)
        let biasValues = bias ?? []
        packedWeight.withUnsafeBufferPointer { weights in biasValues.withUnsafeBufferPointer { biasValues in
            let weights = UnsafeSendable(weights.baseAddress!)
            let bias = UnsafeSendable(biasValues.isEmpty ? nil : biasValues.baseAddress)
            @Sendable func run(tile: Range<Int>, columns: UnsafeMutablePointer<Float>) {
                let c = destination.pointer + tile.lowerBound
                for block in 0..<kBlocks {
                    let rows = (block * blockRows)..<min(k, (block + 1) * blockRows)
                    geometry.build(rows: rows, positions: tile, into: columns)
                    let finish = block == kBlocks - 1
                    gemm.value.multiply(weights.value, outChannels, k, rows.lowerBound, rows.count, columns, tile.count, tile.count, c,
                                        ldc, accumulate || block > 0 ? 1 : 0, finish ? 1 : 0, bias.value, relu)
                }
            }
            @Sendable func runShare(of worker: Int, columns: UnsafeMutablePointer<Float>) {
                let end = min(n, strips * (worker + 1) / workers * nr)
                for start in Swift.stride(from: strips * worker / workers * nr, to: end, by: Self.tileColumns) {
                    run(tile: start..<min(end, start + Self.tileColumns), columns: columns)
                }
            }
            if workers == 1 {
                runShare(of: 0, columns: columns.pointer)
            } else {
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    runShare(of: worker, columns: columns.pointer + worker * tileFloats)
                }
            }
        }}
    }
}

/// Where the im2col columns of a Conv3d come from: row (c, kz, ky, kx) of k, at output position p of the planes
/// being computed (plane after plane, each row-major), holds the value tap (ky, kx) meets on input plane
/// oz·stride − padding + kz of channel c.
private struct TileGeometry: @unchecked Sendable {
    let input: FeatureVolume
    let planes: Range<Int>
    let outputHeight: Int
    let outputWidth: Int
    let kernel: Triple3D
    let stride: Triple3D
    let padding: Triple3D

    /// Rows `rows` of k at output positions `positions`, row-major [rows × positions] in `columns`.
    func build(rows: Range<Int>, positions: Range<Int>, into columns: UnsafeMutablePointer<Float>) {
        let inPlane = PatchRows(stride: stride.plane, padding: padding.plane, dilation: 1)
        let planeSize = outputHeight * outputWidth, inputPlane = input.height * input.width
        var row = columns
        // Row rows.lowerBound's (c, kz, ky, kx), then stepped like an odometer.
        let (channelAndDepth, tap) = rows.lowerBound.quotientAndRemainder(dividingBy: kernel.y * kernel.x)
        var (c, kz) = channelAndDepth.quotientAndRemainder(dividingBy: kernel.z)
        var (ky, kx) = tap.quotientAndRemainder(dividingBy: kernel.x)
        for _ in rows {
            defer {
                kx += 1
                if kx == kernel.x { (kx, ky) = (0, ky + 1) }
                if ky == kernel.y { (ky, kz) = (0, kz + 1) }
                if kz == kernel.z { (kz, c) = (0, c + 1) }
            }
            let volume = UnsafePointer(input.channel(c))
            var position = positions.lowerBound
            while position < positions.upperBound {
                let (index, within) = position.quotientAndRemainder(dividingBy: planeSize)
                let end = min(positions.upperBound, position - within + planeSize)
                let target = row + (position - positions.lowerBound)
                let iz = (planes.lowerBound + index) * stride.z - padding.z + kz
                if iz < 0 || iz >= input.depth {
                    target.update(repeating: 0, count: end - position)
                } else {
                    inPlane.gather(volume + iz * inputPlane, height: input.height, width: input.width, ky: ky, kx: kx,
                                   outputHeight: outputHeight, outputWidth: outputWidth, positions: within..<within + end - position,
                                   into: target)
                }
                position = end
            }
            row += positions.count
        }
    }
}

/// A value handed to the tiles' threads, which only read through it.
private struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
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
    /// `threads` threads share the channels; `scratch` holds one input plane per thread.
    public func apply(
        _ input: FeatureVolume, inputOrigin: Int, depth: Int, planes: Range<Int>, into output: FeatureVolume,
        threads: Int = 1, scratch: UnsafeMutablePointer<Float>
    ) {
        for p in planes {
            let window = window(ofOutputPlane: p, depth: depth)
            precondition(window.lowerBound >= inputOrigin && window.upperBound - inputOrigin <= input.depth,
                         "max-pool window outside the input slab")
        }
        let planeSize = input.planeSize
        let (source, destination, scratchPlanes) = (SendablePointer(input.data), SendablePointer(output.data), SendablePointer(scratch))
        let (height, width, inputVolume, outputVolume, outputPlane) = (input.height, input.width, input.volumeSize, output.volumeSize,
                                                                       output.planeSize)
        @Sendable func pool(channel c: Int, scratch: UnsafeMutablePointer<Float>) {
            let channel = source.pointer + c * inputVolume
            for p in planes {
                let window = window(ofOutputPlane: p, depth: depth)
                scratch.update(from: channel + (window.lowerBound - inputOrigin) * planeSize, count: planeSize)
                for z in window.dropFirst() {
                    let other = channel + (z - inputOrigin) * planeSize
                    for i in 0..<planeSize { scratch[i] = max(scratch[i], other[i]) }
                }
                inPlane.apply(FeatureMap(data: scratch, channels: 1, height: height, width: width),
                              into: destination.pointer + c * outputVolume + p * outputPlane)
            }
        }
        let channels = input.channels, workers = max(1, min(threads, channels))
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for c in Swift.stride(from: worker, to: channels, by: workers) {
                pool(channel: c, scratch: scratchPlanes.pointer + worker * planeSize)
            }
        }
    }
}
