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
/// [out, in, kd, kh, kw], packed once, at load, for CKernels' GEMM (CKernelsGEMM.h), which multiplies them by B a
/// tile of output positions at a time. B never exists whole (a 224³ stem would need 17 GB of im2col columns, and
/// whole planes of columns, 86 MB in layer 1 at 112³, cost OpenBLAS a third of its speed), nor is it packed:
/// - stride 1 (the stem; 3×3×3 layers of other widths than layers 1–2's): each tap's row of B is a shifted view of
///   a zero-padded slab of the input;
/// - otherwise: im2col columns from the same in-plane patch rows as `Conv2d`'s (one per input plane the tap meets,
///   zeros where it meets the depth padding), `depthBlock` rows by `tileColumns` positions built just before use.
/// The 3×3×3 stride-1 padding-1 layers of 32–128 channels (resnet18-3D's layers 1–2) are `Winograd3x3x3` instead:
/// 3.4× fewer multiplications, and only its transformed weights are kept.
public struct Conv3d: Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Triple3D
    public let stride: Triple3D
    public let padding: Triple3D
    public private(set) var bias: [Float]?
    /// Applied after the bias (and after any accumulated addend) as the GEMM stores the output: identity or ReLU.
    public let activation: Activation
    /// How the convolution computes: chosen at load, by `preferredMethod` unless the caller says.
    public let method: Method
    /// The weights in the one form `method` needs.
    private let form: Form
    /// Output positions (columns) per tile, a multiple of every variant's nr (48, 16, 8): with `depthBlock` rows,
    /// a tile of 288 kB, within L2 (measured best among 288–768 columns and 64–256 rows).
    static let tileColumns = 384
    /// Rows of k per tile: a strip of the micro-kernel's width stays in L1 while the weights pass over it.
    static let depthBlock = 192
    /// The most floats of zero-padded input planes copied at once for a stride-1 convolution (at least one
    /// output plane's worth): 4 MB. The stem is the 3D ResNet's one stride-1 direct layer left; a plane's copy costs
    /// well under 1 % of its GEMM, and the 16 MB this was let the stem's slab hold 7 MB of scratch at 224³.
    static let slabBudget = 1 << 20

    public init(
        weight: Tensor, bias: Tensor? = nil, stride: Triple3D = 1, padding: Triple3D = 0,
        activation: Activation = .identity, folding norm: BatchNorm? = nil, method: Method? = nil
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
        let method = method ?? Self.preferredMethod(inChannels: inChannels, outChannels: out, kernel: kernel, stride: stride,
                                                    padding: padding)
        self.method = method
        switch method {
        case .direct:
            form = .packed(PackedWeights(raw, rows: out))
        case .winograd:
            guard Self.admitsWinograd(kernel: kernel, stride: stride, padding: padding) else {
                throw InferenceError.invalidParameter("conv3d: Winograd takes 3×3×3 kernels of stride 1, padding 1")
            }
            form = .winograd(Winograd3x3x3(weight: raw, inChannels: inChannels, outChannels: out))
        }
    }

    /// How a convolution computes: `direct`, a GEMM of the weights with the input's taps (shifted rows or
    /// columns), or `winograd` (Winograd3x3x3: F(2×2×2, 3×3×3), stride 1 and padding 1 only).
    public enum Method: Sendable, Equatable {
        case direct
        case winograd
    }

    private enum Form: Sendable {
        /// [out × in·kd·kh·kw], batch norm folded, packed for the GEMM.
        case packed(PackedWeights)
        case winograd(Winograd3x3x3)
    }

    /// The channel counts that take Winograd by default: resnet18-3D's layers 1–2 (2.1–2.5× faster than the direct
    /// GEMM). Its layers 3–4 measured 2.0× and 1.7× faster too, but the transformed weights are 64/27 the direct
    /// ones: +29 MB for layer3's three convolutions, +108 MB for layer4's (layers 1–2: +10 MB), so they stay direct.
    static let winogradChannels = 32...128

    static func admitsWinograd(kernel: Triple3D, stride: Triple3D, padding: Triple3D) -> Bool {
        kernel == 3 && stride == 1 && padding == 1
    }

    /// Winograd where it measured faster, the direct GEMM everywhere else.
    public static func preferredMethod(inChannels: Int, outChannels: Int, kernel: Triple3D, stride: Triple3D, padding: Triple3D) -> Method {
        admitsWinograd(kernel: kernel, stride: stride, padding: padding) && winogradChannels.contains(inChannels)
            && winogradChannels.contains(outChannels) ? .winograd : .direct
    }

    public func outputSize(depth: Int, height: Int, width: Int) -> (depth: Int, height: Int, width: Int) {
        func size(_ n: Int, _ k: Int, _ s: Int, _ p: Int) -> Int { (n + 2 * p - k) / s + 1 }
        return (size(depth, kernel.z, stride.z, padding.z), size(height, kernel.y, stride.y, padding.y),
                size(width, kernel.x, stride.x, padding.x))
    }

    /// Output depth planes `planes` (default all) of the convolution of `input`, written to `output`, whose plane 0
    /// is output plane `outputOrigin` (so a slab of the output can live in a smaller buffer). With `accumulate`,
    /// the result is added to what `output` holds (a residual's shortcut) before the bias and activation.
    /// `threads` threads share the tiles of output positions.
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
        let firstPlane = planes.lowerBound - outputOrigin
        let packedWeight: PackedWeights
        switch form {
        case .winograd(let winograd):
            (bias ?? []).withUnsafeBufferPointer { bias in
                winograd.apply(input, planes: planes, into: output, firstPlane: firstPlane, accumulate: accumulate,
                               bias: bias.isEmpty ? nil : bias.baseAddress, relu: activation == .relu, threads: threads,
                               workspace: workspace)
            }
            return
        case .packed(let weights):
            packedWeight = weights
        }
        let product = PackedProduct(gemm: packedWeight.gemm, m: outChannels, k: packedWeight.depth, relu: activation == .relu,
                                    depthBlock: Self.depthBlock)
        let destination = Destination(output: output, firstPlane: firstPlane, accumulate: accumulate)
        packedWeight.packed.withUnsafeBufferPointer { weights in (bias ?? []).withUnsafeBufferPointer { bias in
            let operands = PackedOperands(weights: weights.baseAddress!, bias: bias.isEmpty ? nil : bias.baseAddress)
            if prefersShiftedRows(input, product: product) {
                convolveShifted(input, planes: planes, into: destination, product: product, operands: operands, threads: threads,
                                workspace: workspace)
            } else {
                convolveByColumns(input, planes: planes, into: destination, product: product, operands: operands, threads: threads,
                                  workspace: workspace)
            }
        }}
    }

    /// Whether to read B from the padded input (stride 1 only) rather than from columns: the shifted rows cost the
    /// output grid's extra columns (kw − 1 per row, and each tile's last strip rounded up to nr), the columns cost
    /// building them, measured at a quarter of the GEMM for 64 output channels and falling as 1/m (each column
    /// built serves m rows). So layers 1–2 read shifted rows, the small planes of layers 3–4 columns.
    private func prefersShiftedRows(_ input: FeatureVolume, product: PackedProduct) -> Bool {
        guard stride == 1 else { return false }
        let paddedWidth = input.width + 2 * padding.x
        let (outputHeight, outputWidth) = (input.height + 2 * padding.y - kernel.y + 1, paddedWidth - kernel.x + 1)
        let grid = outputHeight * paddedWidth, nr = product.gemm.nr
        let computed = Swift.stride(from: 0, to: grid, by: Self.tileColumns).reduce(0) { sum, start in
            sum + (min(Self.tileColumns, grid - start) + nr - 1) / nr * nr
        }
        let extra = Double(computed) / Double(outputHeight * outputWidth) - 1
        return extra < 16 / Double(product.m)
    }

    /// Strided, or planes too small for shifted rows: im2col columns, `depthBlock` rows of k by `tileColumns` output positions at a time, each built just
    /// before the GEMM reads it and stored by the GEMM straight into the output (bias and activation fused).
    private func convolveByColumns(
        _ input: FeatureVolume, planes: Range<Int>, into destination: Destination, product: PackedProduct, operands: PackedOperands,
        threads: Int, workspace: Workspace
    ) {
        let output = destination.output
        let n = planes.count * output.planeSize
        // Each worker takes an even share of strips of nr columns, in tiles of at most `tileColumns`.
        let nr = product.gemm.nr, strips = (n + nr - 1) / nr
        let workers = max(1, min(threads, strips))
        // The GEMM reads up to nr − 1 floats past a tile's last row.
        let tileFloats = product.blockRows * Self.tileColumns + nr
        let columns = SendablePointer(workspace.scratch(Workspace.convolutionSlot, count: workers * tileFloats))
        let rowOffsets = (0..<product.blockRows).map { $0 * Self.tileColumns }
        let (c0, ldc) = (SendablePointer(destination.firstOutput), output.volumeSize)
        let geometry = TileGeometry(input: input, planes: planes, outputHeight: output.height, outputWidth: output.width,
                                    kernel: kernel, stride: stride, padding: padding)
        rowOffsets.withUnsafeBufferPointer { rowOffsets in
            let rowOffsets = UnsafeSendable(rowOffsets.baseAddress!)
            @Sendable func run(tile: Range<Int>, columns: UnsafeMutablePointer<Float>) {
                for rows in product.blocks {
                    geometry.build(rows: rows, positions: tile, into: columns, rowStride: Self.tileColumns)
                    product.multiply(operands, rows: rows, b: columns, rowOffsets: rowOffsets.value, n: tile.count,
                                     c: c0.pointer + tile.lowerBound, ldc: ldc, accumulate: destination.accumulate,
                                     store: true)
                }
            }
            Parallel.run(workers: workers) { worker in
                let end = min(n, strips * (worker + 1) / workers * nr)
                for start in Swift.stride(from: strips * worker / workers * nr, to: end, by: Self.tileColumns) {
                    run(tile: start..<min(end, start + Self.tileColumns), columns: columns.pointer + worker * tileFloats)
                }
            }
        }
    }

    /// Stride 1, no columns at all. In a zero-padded copy of the input planes (a slab at a time), tap (c, kz, ky, kx)
    /// at output position (oy, ox) reads the value at (oy + ky)·paddedWidth + ox + kx of plane oz + kz: row k of B
    /// is the padded input itself, shifted by the tap's offset, over an output grid of the padded width (whose last
    /// kw − 1 columns are not outputs). Each tile's sums go to a scratch tile, then its real columns to the output
    /// with the addend, bias and activation.
    private func convolveShifted(
        _ input: FeatureVolume, planes: Range<Int>, into destination: Destination, product: PackedProduct, operands: PackedOperands,
        threads: Int, workspace: Workspace
    ) {
        let output = destination.output
        let (paddedHeight, paddedWidth) = (input.height + 2 * padding.y, input.width + 2 * padding.x)
        let paddedPlane = paddedHeight * paddedWidth, gridPerPlane = output.height * paddedWidth
        let slabPlanes = max(1, min(planes.count, Self.slabBudget / (inChannels * paddedPlane) - (kernel.z - 1)))
        let slabDepth = slabPlanes + kernel.z - 1
        let tilesPerPlane = (gridPerPlane + Self.tileColumns - 1) / Self.tileColumns
        let workers = max(1, min(threads, slabPlanes * tilesPerPlane))
        // Rows are read up to nr − 1 floats past their last grid position: past the slab's end by less than a row.
        let slabFloats = inChannels * slabDepth * paddedPlane + paddedWidth + product.gemm.nr
        let tileFloats = outChannels * Self.tileColumns
        let scratch = workspace.scratch(Workspace.convolutionSlot, count: slabFloats + workers * tileFloats)
        let (slab, sums) = (SendablePointer(scratch), SendablePointer(scratch + slabFloats))
        var rowOffsets = [Int]()
        rowOffsets.reserveCapacity(product.k)
        for c in 0..<inChannels { for kz in 0..<kernel.z { for ky in 0..<kernel.y { for kx in 0..<kernel.x {
            rowOffsets.append((c * slabDepth + kz) * paddedPlane + ky * paddedWidth + kx)
        }}}}
        let store = TileStore(destination: destination, gridWidth: paddedWidth, tileStride: Self.tileColumns, operands: operands,
                              activation: activation)
        rowOffsets.withUnsafeBufferPointer { rowOffsets in
            let rowOffsets = UnsafeSendable(rowOffsets.baseAddress!)
            for first in Swift.stride(from: planes.lowerBound, to: planes.upperBound, by: slabPlanes) {
                let count = min(slabPlanes, planes.upperBound - first)
                fillPaddedSlab(input, firstPlane: first * stride.z - padding.z, depth: count + kernel.z - 1, slabDepth: slabDepth,
                               paddedHeight: paddedHeight, paddedWidth: paddedWidth, into: slab.pointer)
                let tiles = count * tilesPerPlane
                Parallel.run(workers: workers) { worker in
                    let tileSums = sums.pointer + worker * tileFloats
                    for tile in (tiles * worker / workers)..<(tiles * (worker + 1) / workers) {
                        let (plane, index) = tile.quotientAndRemainder(dividingBy: tilesPerPlane)
                        let start = index * Self.tileColumns, width = min(Self.tileColumns, gridPerPlane - start)
                        for rows in product.blocks {
                            product.multiply(operands, rows: rows, b: slab.pointer + plane * paddedPlane + start,
                                             rowOffsets: rowOffsets.value + rows.lowerBound, n: width, c: tileSums, ldc: Self.tileColumns,
                                             accumulate: false, store: false)
                        }
                        store.store(tileSums, plane: first - planes.lowerBound + plane, grid: start..<start + width)
                    }
                }
            }
        }
    }

    /// Input planes firstPlane ..< firstPlane + depth (zero planes outside the input) with `padding` zeros around
    /// each, into `slab` [inChannels][slabDepth][paddedHeight][paddedWidth].
    private func fillPaddedSlab(
        _ input: FeatureVolume, firstPlane: Int, depth: Int, slabDepth: Int, paddedHeight: Int, paddedWidth: Int,
        into slab: UnsafeMutablePointer<Float>
    ) {
        let paddedPlane = paddedHeight * paddedWidth
        for c in 0..<inChannels {
            for d in 0..<depth {
                let target = slab + (c * slabDepth + d) * paddedPlane, iz = firstPlane + d
                guard iz >= 0 && iz < input.depth else {
                    target.update(repeating: 0, count: paddedPlane)
                    continue
                }
                copyZeroPadded(input.channel(c) + iz * input.planeSize, height: input.height, width: input.width,
                               padding: padding.plane, into: target)
            }
        }
    }
}

/// Where the output planes being computed go: their first plane in `output`, and whether to add to what is there.
private struct Destination: @unchecked Sendable {
    let output: FeatureVolume
    let firstPlane: Int
    let accumulate: Bool
    var firstOutput: UnsafeMutablePointer<Float> { output.data + firstPlane * output.planeSize }
}

/// Stores a tile of sums computed over the padded-width output grid: its real columns (ox < output width) to the
/// output, after the addend (when accumulating), the bias and the activation (the activations' vector pass).
private struct TileStore: @unchecked Sendable {
    let destination: Destination
    let gridWidth: Int
    let tileStride: Int
    let operands: PackedOperands
    let activation: Activation

    func store(_ sums: UnsafePointer<Float>, plane: Int, grid: Range<Int>) {
        let output = destination.output
        let (height, width) = (output.height, output.width)
        let first = destination.firstOutput + plane * output.planeSize
        for o in 0..<output.channels {
            let shift = operands.bias?[o] ?? 0
            let channel = first + o * output.volumeSize, row = sums + o * tileStride - grid.lowerBound
            var (oy, x0) = grid.lowerBound.quotientAndRemainder(dividingBy: gridWidth)
            var position = grid.lowerBound
            while position < grid.upperBound && oy < height {
                let x1 = min(gridWidth, x0 + grid.upperBound - position)
                // Output columns x0 ..< x1 of row oy, the real ones of them (none when x0 is past the last).
                let count = min(x1, width) - x0
                if count > 0 {
                    let source = row + position, target = channel + oy * width + x0
                    if destination.accumulate {
                        for x in 0..<count { target[x] += source[x] }
                    } else {
                        target.update(from: source, count: count)
                    }
                    activation.apply(target, count: count, shift: shift)
                }
                position += x1 - x0
                (oy, x0) = (oy + 1, 0)
            }
        }
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

    /// Rows `rows` of k at output positions `positions`, row after row `rowStride` floats apart in `columns`.
    func build(rows: Range<Int>, positions: Range<Int>, into columns: UnsafeMutablePointer<Float>, rowStride: Int) {
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
            row += rowStride
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

/// 3-D max pooling (padding counts as −∞), one axis at a time: per output plane, the element-wise maximum of the
/// input planes its depth window meets; per output row, of the rows its window meets (both whole rows at a time,
/// which vectorise); then of the columns each output's window meets. The same maxima as `MaxPool2d`'s window loop
/// (which this used), 1.7× faster.
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

    /// The scratch `apply` needs per thread for input planes of height × width: a plane and a row.
    public static func scratchFloats(height: Int, width: Int) -> Int { (height + 1) * width }

    /// Output planes `planes` of pooling a volume of `depth` planes, of which `input` holds the slab starting at
    /// plane `inputOrigin` (it must hold every plane their windows meet); `output`'s plane 0 is output plane 0.
    /// `threads` threads share the channels; `scratch` holds `scratchFloats` per thread.
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
        let (outputHeight, outputWidth) = (output.height, output.width)
        let (kernel, stride, padding) = (self.kernel, self.stride, self.padding)
        /// target[0..<count] = max(target, source) element-wise.
        @Sendable func maximize(_ target: UnsafeMutablePointer<Float>, with source: UnsafePointer<Float>, count: Int) {
            for i in 0..<count { target[i] = max(target[i], source[i]) }
        }
        @Sendable func pool(channel c: Int, scratch: UnsafeMutablePointer<Float>) {
            let channel = source.pointer + c * inputVolume, row = scratch + planeSize
            for p in planes {
                let window = window(ofOutputPlane: p, depth: depth)
                scratch.update(from: channel + (window.lowerBound - inputOrigin) * planeSize, count: planeSize)
                for z in window.dropFirst() { maximize(scratch, with: channel + (z - inputOrigin) * planeSize, count: planeSize) }
                let target = destination.pointer + c * outputVolume + p * outputPlane
                for oy in 0..<outputHeight {
                    let y0 = max(oy * stride.y - padding.y, 0), y1 = min(oy * stride.y - padding.y + kernel.y, height)
                    row.update(from: scratch + y0 * width, count: width)
                    for y in (y0 + 1)..<y1 { maximize(row, with: scratch + y * width, count: width) }
                    for ox in 0..<outputWidth {
                        let x0 = max(ox * stride.x - padding.x, 0), x1 = min(ox * stride.x - padding.x + kernel.x, width)
                        var best = row[x0]
                        for x in (x0 + 1)..<x1 { best = max(best, row[x]) }
                        target[oy * outputWidth + ox] = best
                    }
                }
            }
        }
        let channels = input.channels, workers = max(1, min(threads, channels))
        Parallel.run(workers: workers) { worker in
            for c in Swift.stride(from: worker, to: channels, by: workers) {
                pool(channel: c, scratch: scratchPlanes.pointer + worker * Self.scratchFloats(height: height, width: width))
            }
        }
    }
}
