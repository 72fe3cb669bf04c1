/// A 1×1, stride-1, unpadded, ungrouped convolution on CKernels' packed GEMM: output [out × n] = W [out × in] ·
/// input [in × n], n = batch·H·W, the channel-major input read in place as B (row c at c·n: no columns, no copy),
/// W packed once, at load. The product runs in tiles of `tileColumns` positions (the last one up to twice that) ×
/// `outputBlock` output channels, `depthBlock` input channels at a time, so each tile's weights, input rows and
/// sums stay in L2; the bias is added as the GEMM stores the last block, another activation is applied to the
/// tile's rows while they are in cache. Tiles are shared out over the threads by their work, each computed the
/// same way whoever runs it: a frame gives the same bits on any number of threads.
struct PointwiseConvolution: Sendable {
    private var weights: PackedWeights

    /// Positions per tile: a multiple of every variant's nr (48, 16, 8). With `outputBlock` and `depthBlock`, a
    /// tile's weights (147 kB), input rows (295 kB) and sums (295 kB) stay in L2 (1 MB). On ECA-NFNet's shapes
    /// (64–2304 × 64–1536 × 49–3136), 192–768 positions, 96–384 channels and 192–384 deep measured alike, 128
    /// deep slower.
    static let tileColumns = 384
    /// Output channels per tile: a multiple of every variant's mr (8, 6, 4); small enough that a frame's 7×7
    /// layers (one tile of positions) give both threads tiles.
    static let outputBlock = 192
    /// Input channels per pass over a tile: a strip of B that deep by the micro-kernel's width stays in L1.
    static let depthBlock = 192

    /// weight [outChannels × inChannels].
    init(weight: [Float], outChannels: Int) {
        weights = PackedWeights(weight, rows: outChannels)
    }

    var outChannels: Int { weights.rows }
    var inChannels: Int { weights.depth }

    /// Output channel o's weights times scale[o] (a batch norm folded in).
    mutating func scaleOutputs(by scale: [Float]) {
        weights.scaleRows(by: scale)
    }

    /// input [inChannels][batch·H·W] → output [outChannels][batch·H·W] = activation(W · input + bias) on `threads`
    /// threads.
    func apply(
        _ input: FeatureMap, into output: UnsafeMutablePointer<Float>, bias: [Float]?, activation: Activation, threads: Int,
        workspace: Workspace
    ) {
        let (m, k, n) = (outChannels, inChannels, input.batch * input.planeSize)
        guard m > 0, n > 0 else { return }
        let fusesActivation = activation == .identity || activation == .relu
        let product = PackedProduct(gemm: weights.gemm, m: m, k: k, relu: activation == .relu, depthBlock: Self.depthBlock)
        let nr = Int(product.gemm.nr), mr = Int(product.gemm.mr)
        // The GEMM reads each row of B up to nr − 1 floats past a strip's last column; the input's last row has no
        // floats after it, so the columns past the last whole strip are read from a copy with rows nr floats apart.
        let inPlace = n / nr * nr, tailWidth = n - inPlace
        let tail = tailWidth > 0 ? workspace.scratch(Workspace.convolutionSlot, count: k * nr) : nil
        if let tail {
            for c in 0..<k { (tail + c * nr).update(from: input.data + c * n + inPlace, count: tailWidth) }
        }
        // The last tile takes the remainder (less than a tile) rather than a narrow tile of its own, which would read
        // all of a row block's weights for a few columns.
        let tileColumns = max(nr, Self.tileColumns / nr * nr), columnTileCount = max(1, n / tileColumns)
        let columnTiles = (0..<columnTileCount).map { $0 * tileColumns..<($0 == columnTileCount - 1 ? n : ($0 + 1) * tileColumns) }
        let outputBlock = max(mr, Self.outputBlock / mr * mr)
        let rowBlocks = Swift.stride(from: 0, to: m, by: outputBlock).map { $0..<min(m, $0 + outputBlock) }
        let tiles = columnTiles.flatMap { columns in rowBlocks.map { (columns: columns, outputs: $0) } }
        // Each tile goes to the worker whose even share of the work (micro-kernel columns × rows) holds its middle.
        let work = tiles.map { ($0.columns.count + nr - 1) / nr * nr * $0.outputs.count }
        let total = work.reduce(0, +)
        let workers = max(1, min(threads, tiles.count, total * k / Parallel.smallestSplitWork))
        var done = 0
        let owners = work.map { tileWork in
            defer { done += tileWork }
            return (2 * done + tileWork) * workers / (2 * total)
        }
        let offsets = (0..<k).map { $0 * n }, tailOffsets = (0..<k).map { $0 * nr }
        let (source, destination) = (UnsafeSendable(UnsafePointer(input.data)), SendablePointer(output))
        let tailSource = tail.map { UnsafeSendable(UnsafePointer($0)) }
        offsets.withUnsafeBufferPointer { offsets in tailOffsets.withUnsafeBufferPointer { tailOffsets in
        weights.packed.withUnsafeBufferPointer { packed in (bias ?? []).withUnsafeBufferPointer { bias in
            let operands = PackedOperands(weights: packed.baseAddress!, bias: bias.isEmpty ? nil : bias.baseAddress)
            let (offsets, tailOffsets) = (UnsafeSendable(offsets.baseAddress!), UnsafeSendable(tailOffsets.baseAddress!))
            Parallel.run(workers: workers) { worker in
                for (index, (columns, outputs)) in tiles.enumerated() where owners[index] == worker {
                    let c = destination.pointer + outputs.lowerBound * n + columns.lowerBound
                    // The tile's columns read in place, then (in the last tile) those read from the tail's copy.
                    let inPlaceColumns = min(columns.upperBound, inPlace) - columns.lowerBound
                    for rows in product.blocks {
                        if inPlaceColumns > 0 {
                            product.multiply(operands, outputs: outputs, rows: rows, b: source.value + columns.lowerBound,
                                             rowOffsets: offsets.value + rows.lowerBound, n: inPlaceColumns, c: c, ldc: n,
                                             accumulate: false, store: true)
                        }
                        if columns.upperBound > inPlace, let tailSource {
                            product.multiply(operands, outputs: outputs, rows: rows, b: tailSource.value,
                                             rowOffsets: tailOffsets.value + rows.lowerBound, n: tailWidth, c: c + inPlaceColumns,
                                             ldc: n, accumulate: false, store: true)
                        }
                    }
                    if !fusesActivation {
                        for o in 0..<outputs.count { activation.apply(c + o * n, count: columns.count) }
                    }
                }
            }
        }}}}
    }
}
