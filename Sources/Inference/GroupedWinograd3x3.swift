import CKernels

/// Winograd F(4×4, 3×3) for grouped 3×3 stride-1 pad-1 convolutions (ECA-NFNet's, groups of 64 channels): per
/// group, 36 products M[e] = U[e]ᵀ · V[e] of [in × out] by [in × tiles], 4× fewer multiplies than the direct
/// kernel (`GroupedConvolution3x3`), which already runs near the core's peak. The transforms are `Winograd3x3`'s
/// (CWinograd.h); the products are CKernels' own small GEMM (CWinogradGEMM.h), which keeps its lanes busy at the
/// 4–16 tiles of one 7² or 14² image, where the batch's images' tiles lie side by side. Only the 3×3 kernels are
/// kept (U is 4× their size: 45 MB more for ECA-NFNet): a group's U is made when the group runs, into scratch that
/// stays in the cache while its products use it.
struct GroupedWinograd3x3: Sendable {
    let inChannels: Int
    let outChannels: Int
    let groups: Int
    /// Per group nine planes [tap][in/groups][out/groups] (tap 3·ky + kx): one weight transform gives the group's
    /// U[e] as [in][out], the k-major form the products read.
    private var kernels: [Float]

    /// Channels per group at most, in and out: a group's U, 36 × in × out floats (576 KB), stays in L2 beside a
    /// band's V and M. Wider convolutions take `Winograd3x3`, which makes U band by band of inputs.
    static let largestGroupWidth = 64

    /// 3×3 stride-1 pad-1 convolutions, grouped or not, with small groups whose output width is a multiple of
    /// CK_WINOGRAD_GEMM_ROWS.
    static func fits(kernel: Pair2D, stride: Pair2D, padding: Pair2D, dilation: Pair2D, inChannels: Int, outChannels: Int,
                     groups: Int) -> Bool {
        let (inPerGroup, outPerGroup) = (inChannels / groups, outChannels / groups)
        return kernel == 3 && stride == 1 && padding == 1 && dilation == 1 && outPerGroup % Int(CK_WINOGRAD_GEMM_ROWS) == 0
            && inPerGroup <= largestGroupWidth && outPerGroup <= largestGroupWidth
    }

    /// `weight` is [out, in/groups, 3, 3].
    init(weight: [Float], inChannels: Int, outChannels: Int, groups: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        let (inPerGroup, outPerGroup) = (inChannels / groups, outChannels / groups)
        kernels = [Float](unsafeUninitializedCapacity: weight.count) { taps, initialized in
            for g in 0..<groups {
                for tap in 0..<9 {
                    for c in 0..<inPerGroup {
                        let row = taps.baseAddress! + ((g * 9 + tap) * inPerGroup + c) * outPerGroup
                        for o in 0..<outPerGroup { row[o] = weight[((g * outPerGroup + o) * inPerGroup + c) * 9 + tap] }
                    }
                }
            }
            initialized = weight.count
        }
    }

    /// Output channel o's kernels times scale[o] (a batch norm folded after loading).
    mutating func scaleOutputs(by scale: [Float]) {
        let outPerGroup = outChannels / groups, groupFloats = kernels.count / groups
        kernels.withUnsafeMutableBufferPointer { k in
            for i in k.indices { k[i] *= scale[i / groupFloats * outPerGroup + i % outPerGroup] }
        }
    }

    /// Tiles per band at most (a 14² batch of 8 in one band): a band's V and M (36 × 64 × 128 floats each) and the
    /// group's U mostly stay in a core's L2; bands of 64 or 96 tiles measured 20 % slower at 14² and at 112².
    static let bandTiles = 128

    /// input [inChannels][batch][H][W] → activation(output + bias), same layout. The tiles of all images are
    /// numbered image by image, tile row by tile row, and cut into bands of whole tile rows; per (group, band)
    /// (the tile rows split evenly over `Parallel.threadsForOneItem` threads, each with its own scratch): the
    /// group's U unless the thread has it already, the input transform of the group's channels, the 36 products,
    /// and the output transform with bias and activation over the rows just written.
    func apply(_ input: FeatureMap, into output: FeatureMap, bias: [Float]?, activation: Activation, workspace: Workspace) {
        let transforms = UnsafeSendable(ck_winograd_active().pointee)
        let gemm = ck_winograd_gemm()!
        let (batch, height, width, plane) = (input.batch, input.height, input.width, input.planeSize)
        let (inPerGroup, outPerGroup) = (inChannels / groups, outChannels / groups)
        let (tileRows, tileColumns) = Winograd3x3.tiles(height: height, width: width)
        let allRows = batch * tileRows  // (image, tile row) pairs
        let bandRows = max(1, min(allRows, Self.bandTiles / tileColumns))
        let bandTiles = bandRows * tileColumns
        let elements = Winograd3x3.elements, groupKernels = inPerGroup * outPerGroup
        let uFloats = elements * groupKernels
        let vFloats = elements * inPerGroup * bandTiles + Int(CK_WINOGRAD_GEMM_READ_PAST)
        let mFloats = elements * outPerGroup * bandTiles + Int(CK_WINOGRAD_READ_PAST)
        let workerFloats = (uFloats + vFloats + mFloats + ck_winograd_band_buffer_floats(bandTiles) + 15) / 16 * 16
        // The (group, tile row) pairs, group by group, split evenly over the threads; each thread takes its share
        // in bands of up to bandRows rows of one group, and makes a group's U once for its run of them.
        let units = groups * allRows
        let workers = max(1, min(Parallel.threadsForOneItem, units))
        let scratch = SendablePointer(workspace.scratch(Workspace.convolutionSlot, count: workers * workerFloats))
        let (source, destination) = (UnsafeSendable(UnsafePointer(input.data)), SendablePointer(output.data))
        kernels.withUnsafeBufferPointer { k in
            let kernels = UnsafeSendable(k.baseAddress!)
            Parallel.run(workers: workers) { worker in
                let u = scratch.pointer + worker * workerFloats
                let (v, m) = (u + uFloats, u + uFloats + vFloats)
                let buffer = m + mFloats
                let (vElement, mElement) = (inPerGroup * bandTiles, outPerGroup * bandTiles)
                var groupInU = -1
                var unit = worker * units / workers
                let end = (worker + 1) * units / workers
                while unit < end {
                    let (g, firstRow) = unit.quotientAndRemainder(dividingBy: allRows)
                    if g != groupInU {
                        transforms.value.weight_tiles(kernels.value + g * 9 * groupKernels, groupKernels, groupKernels, u, groupKernels)
                        groupInU = g
                    }
                    let rows = firstRow..<min(firstRow + bandRows, allRows, end - g * allRows)
                    unit += rows.count
                    for c in 0..<inPerGroup {
                        transforms.value.input_band(source.value + (g * inPerGroup + c) * batch * plane, plane, height, width, tileRows,
                                                    firstRow, rows.count, tileColumns, v + c * bandTiles, vElement, buffer)
                    }
                    for e in 0..<elements {
                        gemm(u + e * groupKernels, outPerGroup, inPerGroup, v + e * vElement, bandTiles,
                             rows.count * tileColumns, m + e * mElement, bandTiles)
                    }
                    for o in 0..<outPerGroup {
                        let channel = g * outPerGroup + o
                        let outputPlanes = destination.pointer + channel * batch * plane
                        transforms.value.output_band(m + o * bandTiles, mElement, tileRows, firstRow, rows.count, tileColumns,
                                                     outputPlanes, plane, height, width, buffer)
                        // Bias and activation over the rows just written, image by image.
                        var row = rows.lowerBound
                        while row < rows.upperBound {
                            let (image, firstTileRow) = row.quotientAndRemainder(dividingBy: tileRows)
                            let endTileRow = min(tileRows, firstTileRow + rows.upperBound - row)
                            let (top, bottom) = (4 * firstTileRow, min(height, 4 * endTileRow))
                            activation.apply(outputPlanes + image * plane + top * width, count: (bottom - top) * width,
                                             shift: bias?[channel] ?? 0)
                            row += endTileRow - firstTileRow
                        }
                    }
                }
            }
        }
    }
}
