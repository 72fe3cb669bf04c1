import CKernels

/// Winograd F(2×2×2, 3×3×3) for Conv3d's stride-1, padding-1 3×3×3 convolutions: each 2×2×2 output tile comes
/// from a 4×4×4 input tile through 64 point-wise products, done as 64 GEMMs [out × in] · [in × tiles] on CKernels'
/// packed GEMM — 27·8 / 64 = 3.4× fewer multiplications than the direct form. The transforms are CKernels'
/// (CWinograd3D.h): U = G g Gᵀ once at load (only U is kept, packed per point), V = Bᵀ d B and Y = Aᵀ M A a block
/// of `blockTiles` tiles at a time, so V and M of a block (64 · channels · blockTiles floats each) stay in cache
/// and the transformed input of a whole layer (8× its size) never exists.
struct Winograd3x3x3: Sendable {
    static let points = 64

    let inChannels: Int
    let outChannels: Int
    /// U of each point, [out × in] packed for the GEMM variant `isa`, point after point `pointFloats` apart.
    private let packed: [Float]
    private let pointFloats: Int
    private let isa: UInt32

    /// Tiles per block (the GEMMs' n): a multiple of every GEMM variant's nr (48, 16, 8). At 64 channels a block's
    /// V and M are 0.75 MB each, in L2 and L3 (of 48–288, 48 measured best at 64–256 channels; 96 was level at 64).
    static let blockTiles = 48

    /// Output channels per band of M, at most (a multiple of every GEMM variant's mr: 8, 6, 4): a block's M is made
    /// and transformed band by band, so 128 channels need 2.4 MB of scratch per thread, not 3.1 (V is read once per
    /// band; the sums, and their bits, are the same).
    static let outputBand = 72

    /// `weight` is [out, in, 3, 3, 3] (batch norm already folded).
    init(weight: [Float], inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        let gemm = ck_gemm_active()!
        isa = gemm.pointee.isa.rawValue
        let (pointFloats, mr) = (ck_gemm_packed_count(gemm, outChannels, inChannels), gemm.pointee.mr)
        self.pointFloats = pointFloats
        // U a panel of mr output channels at a time (U whole would be a second copy of the packed form, held only
        // to be packed): packing a panel's rows alone lays them out as the whole matrix's packing does.
        var u = [Float](repeating: 0, count: Self.points * mr * inChannels)
        packed = [Float](unsafeUninitializedCapacity: Self.points * pointFloats) { packed, count in
            weight.withUnsafeBufferPointer { weight in
                for first in stride(from: 0, to: outChannels, by: mr) {
                    let rows = min(mr, outChannels - first), panel = rows * inChannels
                    u.withUnsafeMutableBufferPointer { u in
                        ck_winograd3d_weights(weight.baseAddress! + first * inChannels * 27, panel, u.baseAddress, panel)
                        for e in 0..<Self.points {
                            ck_gemm_pack_a(gemm, u.baseAddress! + e * panel, rows, inChannels,
                                           packed.baseAddress! + e * pointFloats + first * inChannels)
                        }
                    }
                }
            }
            count = Self.points * pointFloats
        }
    }

    /// Output planes `planes` of the convolution of `input` into `output` from its plane `firstPlane` on: each
    /// value is (what `output` holds + the sum, if `accumulate`) + bias, then ReLU if `relu`. `threads` threads
    /// share the blocks of tiles; a tile's result does not depend on its block, so neither do the bits on the
    /// thread count.
    func apply(
        _ input: FeatureVolume, planes: Range<Int>, into output: FeatureVolume, firstPlane: Int, accumulate: Bool,
        bias: UnsafePointer<Float>?, relu: Bool, threads: Int, workspace: Workspace
    ) {
        let gemm = ck_gemm_variant(ck_isa(rawValue: isa))!.pointee
        let grid = TileGrid(planes: planes.count, height: input.height, width: input.width)
        let blocks = (grid.count + Self.blockTiles - 1) / Self.blockTiles
        let workers = max(1, min(threads, blocks))
        precondition(Self.outputBand % gemm.mr == 0, "an output band must hold whole panels of the packed weights")
        // Per worker: V [point][in][tile], M [point][band's out][tile], the input transform's rows; each rounded to
        // 16 floats, with the GEMM's and the output transform's reads past their ends.
        func rounded(_ floats: Int) -> Int { (floats + 15) & ~15 }
        let vFloats = rounded(Self.points * inChannels * Self.blockTiles + gemm.nr)
        let mFloats = rounded(Self.points * min(outChannels, Self.outputBand) * Self.blockTiles + Int(CK_WINOGRAD3D_READ_PAST))
        let workerFloats = vFloats + mFloats + rounded(ck_winograd3d_buffer_floats(min(Self.blockTiles, grid.columns)))
        let scratch = SendablePointer(workspace.scratch(Workspace.convolutionSlot, count: workers * workerFloats))
        let rowOffsets = (0..<inChannels).map { $0 * Self.blockTiles }
        packed.withUnsafeBufferPointer { packed in rowOffsets.withUnsafeBufferPointer { rowOffsets in
            let blockRun = BlockRun(
                gemm: gemm, transforms: ck_winograd3d_active().pointee, grid: grid, input: input, firstInputPlane: planes.lowerBound,
                output: output, firstPlane: firstPlane, packed: packed.baseAddress!, pointFloats: pointFloats,
                rowOffsets: rowOffsets.baseAddress!, bias: bias, accumulate: accumulate, relu: relu)
            Parallel.run(workers: workers) { worker in
                let v = scratch.pointer + worker * workerFloats
                for block in (blocks * worker / workers)..<(blocks * (worker + 1) / workers) {
                    blockRun.run(tiles: block * Self.blockTiles..<min(grid.count, (block + 1) * Self.blockTiles), v: v, m: v + vFloats,
                                 buffer: v + vFloats + mFloats)
                }
            }
        }}
    }
}

/// One block of tiles through the three steps, by any thread: what it reads is shared, V, M and the transform's
/// rows are the thread's own.
private struct BlockRun: @unchecked Sendable {
    let gemm: ck_gemm
    let transforms: ck_winograd3d_kernels
    let grid: TileGrid
    let input: FeatureVolume
    /// The input plane of output plane 0 of the grid (stride 1, padding 1: the same index).
    let firstInputPlane: Int
    let output: FeatureVolume
    /// The plane of `output` output plane 0 of the grid goes to.
    let firstPlane: Int
    let packed: UnsafePointer<Float>
    let pointFloats: Int
    /// c · blockTiles for input channel c: the rows of a point's V.
    let rowOffsets: UnsafePointer<Int>
    let bias: UnsafePointer<Float>?
    let accumulate: Bool
    let relu: Bool

    func run(tiles: Range<Int>, v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>, buffer: UnsafeMutablePointer<Float>) {
        let (inChannels, outChannels, blockTiles) = (input.channels, output.channels, Winograd3x3x3.blockTiles)
        let (height, width) = (input.height, input.width)
        grid.forEachRow(in: tiles) { tz, ty, columns, offset in
            for c in 0..<inChannels {
                transforms.input_tiles(input.channel(c), input.depth, height, width, firstInputPlane + 2 * tz - 1, 2 * ty - 1,
                                       columns.lowerBound, columns.count, v + c * blockTiles + offset, inChannels * blockTiles, buffer)
            }
        }
        for band in stride(from: 0, to: outChannels, by: Winograd3x3x3.outputBand) {
            let count = min(Winograd3x3x3.outputBand, outChannels - band)
            for e in 0..<Winograd3x3x3.points {
                // The band's rows of U are whole panels of the packing, from panel band / mr on.
                gemm.multiply(packed + e * pointFloats + band * inChannels, count, inChannels, 0, inChannels,
                              v + e * inChannels * blockTiles, rowOffsets, tiles.count, m + e * count * blockTiles, blockTiles, 0, 0, nil, 0)
            }
            transformOutput(tiles: tiles, channels: band..<band + count, m: m)
        }
    }

    /// Y = Aᵀ M A of output channels `channels` (M holding them alone), with the addend, bias and ReLU.
    private func transformOutput(tiles: Range<Int>, channels: Range<Int>, m: UnsafeMutablePointer<Float>) {
        let (planeSize, width, blockTiles) = (output.planeSize, output.width, Winograd3x3x3.blockTiles)
        grid.forEachRow(in: tiles) { tz, ty, columns, offset in
            let corner = output.data + (firstPlane + 2 * tz) * planeSize + 2 * ty * width
            let (planes, rows) = (min(2, grid.planes - 2 * tz), min(2, output.height - 2 * ty))
            for o in channels {
                transforms.output_tiles(m + (o - channels.lowerBound) * blockTiles + offset, channels.count * blockTiles, columns.lowerBound,
                                        columns.count, corner + o * output.volumeSize, planeSize, planes, rows, width, bias?[o] ?? 0,
                                        accumulate ? 1 : 0, relu ? 1 : 0)
            }
        }
    }
}

/// The 2×2×2 output tiles of `planes` output planes of height × width, numbered plane of tiles by plane, row by
/// row.
private struct TileGrid: Sendable {
    let planes: Int
    let rows: Int
    let columns: Int
    let count: Int

    init(planes: Int, height: Int, width: Int) {
        self.planes = planes
        (rows, columns) = ((height + 1) / 2, (width + 1) / 2)
        count = (planes + 1) / 2 * rows * columns
    }

    /// body(tz, ty, tile columns, offset in `tiles`) for each row of tiles `tiles` meets.
    func forEachRow(in tiles: Range<Int>, _ body: (Int, Int, Range<Int>, Int) -> Void) {
        var tile = tiles.lowerBound
        while tile < tiles.upperBound {
            let (row, tx) = tile.quotientAndRemainder(dividingBy: columns)
            let (tz, ty) = row.quotientAndRemainder(dividingBy: rows)
            let count = min(columns - tx, tiles.upperBound - tile)
            body(tz, ty, tx..<tx + count, tile - tiles.lowerBound)
            tile += count
        }
    }
}
