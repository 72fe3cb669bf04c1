import CKernels

/// Winograd F(4×4, 3×3) for 3×3 stride-1 pad-1 convolutions: each 4×4 output tile comes from a 6×6 input tile
/// through 36 element-wise products, done as 36 GEMMs [out × in] · [in × tiles] — 4× fewer multiplies than the
/// direct form, no im2col. Transforms (Lavin & Gray, points 0, ±1, ±2): V = Bᵀ d B, U = G g Gᵀ, Y = Aᵀ (U ⊙ V) A,
/// all three in CKernels (CWinograd.h). Only the 3×3 kernels are kept: U is 4× their size (400 MB for a UNet++),
/// so it is made band by band of input channels into scratch just before the GEMMs that use it, which accumulate
/// band by band into M.
struct Winograd3x3: Sendable {
    static let tile = 4  // output tile side
    static let elements = 36

    let inChannels: Int
    let outChannels: Int
    /// Input channels per band of U.
    let inputBand: Int
    /// The kernels band by band of input channels, each band nine planes [tap][out][band] (tap 3·ky + kx), so that
    /// one band's U comes out of nine long contiguous runs.
    private(set) var kernels: [Float]

    /// Floats of U at most per band of input channels, 1 MB (a core's L2: U is written, then read by the GEMMs'
    /// packing right away), unless that leaves a band narrower than `minimumInputBand` channels (the GEMMs' depth).
    static let inputBandFloats = 256 << 10
    static let minimumInputBand = 32

    /// `weight` is [out, in, 3, 3].
    init(weight: [Float], inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        let inputBand = min(inChannels, max(Self.minimumInputBand, Self.inputBandFloats / (Self.elements * outChannels) / 16 * 16))
        self.inputBand = inputBand
        let bands = stride(from: 0, to: inChannels, by: inputBand).map { $0..<min($0 + inputBand, inChannels) }
        kernels = [Float](unsafeUninitializedCapacity: 9 * outChannels * inChannels) { taps, initialized in
            for band in bands {
                let start = taps.baseAddress! + 9 * outChannels * band.lowerBound
                for tap in 0..<9 {
                    for o in 0..<outChannels {
                        let row = start + (tap * outChannels + o) * band.count
                        for c in band { row[c - band.lowerBound] = weight[(o * inChannels + c) * 9 + tap] }
                    }
                }
            }
            initialized = 9 * outChannels * inChannels
        }
    }

    /// Output channel o's kernels times scale[o] (a batch norm that follows the convolution).
    mutating func scaleOutputs(by scale: [Float]) {
        let (inChannels, outChannels, inputBand) = (self.inChannels, self.outChannels, self.inputBand)
        kernels.withUnsafeMutableBufferPointer { k in
            for first in stride(from: 0, to: inChannels, by: inputBand) {
                let count = min(inputBand, inChannels - first)
                for tap in 0..<9 {
                    for o in 0..<outChannels {
                        let row = k.baseAddress! + 9 * outChannels * first + (tap * outChannels + o) * count
                        for c in 0..<count { row[c] *= scale[o] }
                    }
                }
            }
        }
    }

    static func tiles(height: Int, width: Int) -> (rows: Int, columns: Int) {
        ((height + tile - 1) / tile, (width + tile - 1) / tile)
    }

    /// Floats of V at most per band of tile rows, 8 MB: a large image's transformed input is never all in memory (a
    /// UNet++ decoder layer at 112² took 58 MB per thread).
    static let bandFloats = 2 << 20

    /// One image [in, H, W] → activation([out, H, W] + bias); its channel planes lie `channelStride` floats apart in
    /// both (H·W for a lone image, more inside a channel-major batch). Per band of input channels: its U, then per
    /// band of tile rows the input transform of those channels and M[e] (+)= U[e] · V[e]; U is made once per image
    /// and every band of V is packed for the GEMMs once. Then the output transform, with bias and activation over
    /// each output plane while it is in the cache.
    func apply(
        input: UnsafePointer<Float>, height: Int, width: Int, channelStride: Int, output: UnsafeMutablePointer<Float>,
        bias: [Float]?, activation: Activation, workspace: Workspace
    ) {
        let transforms = ck_winograd_active().pointee
        let (tileRows, tileColumns) = Self.tiles(height: height, width: width)
        let tileCount = tileRows * tileColumns
        let bandRows = max(1, min(tileRows, Self.bandFloats / (Self.elements * inputBand * tileColumns)))
        let mFloats = Self.elements * outChannels * tileCount + Int(CK_WINOGRAD_READ_PAST)
        let vFloats = Self.elements * inputBand * bandRows * tileColumns
        let uFloats = Self.elements * outChannels * inputBand
        let m = workspace.scratch(Workspace.convolutionSlot,
                                  count: mFloats + vFloats + uFloats + ck_winograd_buffer_floats(tileColumns))
        let v = m + mFloats, u = v + vFloats, rowBuffer = u + uFloats
        let mPlane = outChannels * tileCount

        kernels.withUnsafeBufferPointer { k in
            for first in stride(from: 0, to: inChannels, by: inputBand) {
                let count = min(inputBand, inChannels - first), uPlane = outChannels * count
                transforms.weight_tiles(k.baseAddress! + 9 * outChannels * first, uPlane, uPlane, u, uPlane)
                for firstRow in stride(from: 0, to: tileRows, by: bandRows) {
                    let rows = firstRow..<min(firstRow + bandRows, tileRows)
                    let bandTiles = rows.count * tileColumns, vPlane = count * bandTiles
                    for c in 0..<count {
                        for ty in rows {
                            transforms.input_tiles(input + (first + c) * channelStride, height, width, ty, tileColumns,
                                                   v + c * bandTiles + (ty - firstRow) * tileColumns, vPlane, rowBuffer)
                        }
                    }
                    for e in 0..<Self.elements {
                        BLAS.sgemm(m: outChannels, n: bandTiles, k: count, a: u + e * uPlane, lda: count,
                                   b: v + e * vPlane, ldb: bandTiles, beta: first == 0 ? 0 : 1,
                                   c: m + e * mPlane + firstRow * tileColumns, ldc: tileCount)
                    }
                }
            }
        }

        for o in 0..<outChannels {
            let outputPlane = output + o * channelStride
            for ty in 0..<tileRows {
                transforms.output_tiles(m + o * tileCount + ty * tileColumns, mPlane, tileColumns, outputPlane, height, width, ty)
            }
            activation.apply(outputPlane, count: height * width, shift: bias?[o] ?? 0)
        }
    }
}
