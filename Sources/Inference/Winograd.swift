/// Winograd F(4×4, 3×3) for 3×3 stride-1 pad-1 convolutions: each 4×4 output tile comes from a 6×6 input tile
/// through 36 element-wise products, done as 36 GEMMs [out × in] · [in × tiles] — 4× fewer multiplies than the
/// direct form, no im2col. Transforms (Lavin & Gray, points 0, ±1, ±2): V = Bᵀ d B, U = G g Gᵀ, Y = Aᵀ (U ⊙ V) A.
struct Winograd3x3: Sendable {
    static let tile = 4  // output tile side
    static let alpha = 6  // input tile side
    static let elements = 36

    let inChannels: Int
    let outChannels: Int
    /// U as 36 matrices [outChannels, inChannels].
    private(set) var transformedWeights: [Float]

    /// G (6×3), row-major.
    private static let g: [Double] = [
        1.0 / 4, 0, 0, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6,
        1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 24, -1.0 / 12, 1.0 / 6, 0, 0, 1,
    ]

    /// `weight` is [out, in, 3, 3].
    init(weight: [Float], inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        let plane = outChannels * inChannels
        transformedWeights = [Float](unsafeUninitializedCapacity: Self.elements * plane) { u, initialized in
            Self.g.withUnsafeBufferPointer { g in
                weight.withUnsafeBufferPointer { w in
                    let t = UnsafeMutablePointer<Double>.allocate(capacity: 18)  // G · kernel (6×3)
                    defer { t.deallocate() }
                    for pair in 0..<plane {
                        let k = w.baseAddress! + pair * 9
                        for i in 0..<6 {
                            let (g0, g1, g2) = (g[3 * i], g[3 * i + 1], g[3 * i + 2])
                            for j in 0..<3 {
                                t[3 * i + j] = g0 * Double(k[j]) + g1 * Double(k[3 + j]) + g2 * Double(k[6 + j])
                            }
                        }
                        // U = (G k) Gᵀ; pair = o · inChannels + c indexes each [out, in] matrix.
                        for i in 0..<6 {
                            let (t0, t1, t2) = (t[3 * i], t[3 * i + 1], t[3 * i + 2])
                            for j in 0..<6 {
                                u[(6 * i + j) * plane + pair] = Float(t0 * g[3 * j] + t1 * g[3 * j + 1] + t2 * g[3 * j + 2])
                            }
                        }
                    }
                }
            }
            initialized = Self.elements * plane
        }
    }

    /// Output channel o's weights times scale[o] (a batch norm folded after the transform: U is linear in them).
    mutating func scaleOutputs(by scale: [Float]) {
        let plane = outChannels * inChannels
        transformedWeights.withUnsafeMutableBufferPointer { u in
            for e in 0..<Self.elements {
                for o in 0..<outChannels {
                    let row = u.baseAddress! + e * plane + o * inChannels
                    for c in 0..<inChannels { row[c] *= scale[o] }
                }
            }
        }
    }

    static func tiles(height: Int, width: Int) -> (rows: Int, columns: Int) {
        ((height + tile - 1) / tile, (width + tile - 1) / tile)
    }

    /// One image [in, H, W] → activation([out, H, W] + bias), the bias and activation applied to each output row
    /// before it is stored (no second pass over the output); its channel planes lie `channelStride` floats apart in
    /// both (H·W for a lone image, more inside a channel-major batch).
    func apply(
        input: UnsafePointer<Float>, height: Int, width: Int, channelStride: Int, output: UnsafeMutablePointer<Float>,
        bias: [Float]?, activation: Activation, workspace: Workspace
    ) {
        let (tileRows, tileColumns) = Self.tiles(height: height, width: width)
        // The transforms run 8 tiles at a time; the last group of a row may read (never write) past its end.
        let groupedColumns = (tileColumns + 7) / 8 * 8
        let bandRows = max(1, min(tileRows, Self.bandFloats / (Self.elements * (inChannels + outChannels) * tileColumns)))
        let v = workspace.scratch(Workspace.convolutionSlot,
                                  count: Self.elements * (inChannels + outChannels) * bandRows * tileColumns + 8)
        for firstRow in stride(from: 0, to: tileRows, by: bandRows) {
            applyBand(tileRows: firstRow..<min(firstRow + bandRows, tileRows), tileColumns: tileColumns,
                      groupedColumns: groupedColumns, input: input, height: height, width: width,
                      channelStride: channelStride, output: output, bias: bias, activation: activation, scratch: v)
        }
    }

    /// Floats of V and M (the transformed input and the products) at most per band of tile rows, 16 MB: the
    /// transforms and GEMMs run band by band, so a large image's tiles are never all in memory (a UNet++ decoder
    /// layer at 112² took 58 MB per thread), and a band stays closer to the cache. U is read once per band.
    static let bandFloats = 4 << 20

    /// Input transform, 36 GEMMs and output transform for the tiles of rows `tileRows`.
    private func applyBand(
        tileRows: Range<Int>, tileColumns: Int, groupedColumns: Int, input: UnsafePointer<Float>, height: Int, width: Int,
        channelStride: Int, output: UnsafeMutablePointer<Float>, bias: [Float]?, activation: Activation,
        scratch v: UnsafeMutablePointer<Float>
    ) {
        let tileCount = tileRows.count * tileColumns
        let m = v + Self.elements * inChannels * tileCount
        let vPlane = inChannels * tileCount, mPlane = outChannels * tileCount

        // Input transform, a tile row at a time. Padded column k is image column k − 1, and the tile at tx covers
        // padded columns 4·tx … 4·tx + 5. Rows first (Bᵀ d, 8 columns at a time), then columns (· B, 8 tiles at a
        // time: stride-4 lanes split out of 32 consecutive values).
        let rowLength = 4 * groupedColumns + 40
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 12 * rowLength)
        defer { buffer.deallocate() }
        buffer.update(repeating: 0, count: 12 * rowLength)
        let p = (0..<6).map { buffer + $0 * rowLength }
        let r = (0..<6).map { buffer + (6 + $0) * rowLength }
        let paddedWidth = 4 * tileColumns + 2
        for c in 0..<inChannels {
            let plane = input + c * channelStride
            for ty in tileRows {
                for i in 0..<6 {
                    let y = 4 * ty - 1 + i
                    p[i].update(repeating: 0, count: paddedWidth)
                    if y >= 0 && y < height { (p[i] + 1).update(from: plane + y * width, count: width) }
                }
                for k in stride(from: 0, to: paddedWidth, by: 8) {
                    let t = Self.inputTransform(load8(p[0] + k), load8(p[1] + k), load8(p[2] + k),
                                                load8(p[3] + k), load8(p[4] + k), load8(p[5] + k))
                    store8(t.0, r[0] + k); store8(t.1, r[1] + k); store8(t.2, r[2] + k)
                    store8(t.3, r[3] + k); store8(t.4, r[4] + k); store8(t.5, r[5] + k)
                }
                let base = c * tileCount + (ty - tileRows.lowerBound) * tileColumns
                for i in 0..<6 {
                    let row = r[i]
                    let first = v + (6 * i) * vPlane + base
                    for group in stride(from: 0, to: tileColumns, by: 8) {
                        let a = UnsafeRawPointer(row + 4 * group).loadUnaligned(as: SIMD32<Float>.self)
                        let b = UnsafeRawPointer(row + 4 * group + 4).loadUnaligned(as: SIMD32<Float>.self)
                        let (even, odd) = (a.evenHalf, a.oddHalf)
                        let t = Self.inputTransform(even.evenHalf, odd.evenHalf, even.oddHalf, odd.oddHalf,
                                                    b.evenHalf.evenHalf, b.oddHalf.evenHalf)
                        let count = min(8, tileColumns - group)
                        store(t.0, first + group, count); store(t.1, first + vPlane + group, count)
                        store(t.2, first + 2 * vPlane + group, count); store(t.3, first + 3 * vPlane + group, count)
                        store(t.4, first + 4 * vPlane + group, count); store(t.5, first + 5 * vPlane + group, count)
                    }
                }
            }
        }

        // 36 GEMMs: M[e] = U[e] · V[e].
        transformedWeights.withUnsafeBufferPointer { u in
            for e in 0..<Self.elements {
                BLAS.sgemm(m: outChannels, n: tileCount, k: inChannels,
                           a: u.baseAddress! + e * outChannels * inChannels, lda: inChannels,
                           b: v + e * vPlane, ldb: tileCount,
                           c: m + e * mPlane, ldc: tileCount)
            }
        }

        // Output transform Y = Aᵀ M A, a tile row at a time, 8 tiles at a time: rows of Aᵀ M for each tile column j
        // into a[4·j + row], then the column combination per output row into `line`, copied to the image.
        let outBuffer = UnsafeMutablePointer<Float>.allocate(capacity: 28 * groupedColumns)
        defer { outBuffer.deallocate() }
        let a = (0..<24).map { outBuffer + $0 * groupedColumns }
        let line = outBuffer + 24 * groupedColumns
        for o in 0..<outChannels {
            let plane = output + o * channelStride, shift = bias?[o] ?? 0
            for ty in tileRows {
                let t0 = o * tileCount + (ty - tileRows.lowerBound) * tileColumns
                for j in 0..<6 {
                    let m0 = m + j * mPlane + t0
                    for group in stride(from: 0, to: tileColumns, by: 8) {
                        let y = Self.outputTransform(load8(m0 + group), load8(m0 + 6 * mPlane + group),
                                                     load8(m0 + 12 * mPlane + group), load8(m0 + 18 * mPlane + group),
                                                     load8(m0 + 24 * mPlane + group), load8(m0 + 30 * mPlane + group))
                        store8(y.0, a[4 * j] + group); store8(y.1, a[4 * j + 1] + group)
                        store8(y.2, a[4 * j + 2] + group); store8(y.3, a[4 * j + 3] + group)
                    }
                }
                for row in 0..<4 {
                    let y = 4 * ty + row
                    guard y < height else { break }
                    for group in stride(from: 0, to: tileColumns, by: 8) {
                        let out = Self.outputTransform(load8(a[row] + group), load8(a[4 + row] + group),
                                                       load8(a[8 + row] + group), load8(a[12 + row] + group),
                                                       load8(a[16 + row] + group), load8(a[20 + row] + group))
                        let target = line + 4 * group
                        for lane in 0..<8 {
                            target[4 * lane] = out.0[lane]; target[4 * lane + 1] = out.1[lane]
                            target[4 * lane + 2] = out.2[lane]; target[4 * lane + 3] = out.3[lane]
                        }
                    }
                    activation.apply(line, count: width, shift: shift)
                    (plane + y * width).update(from: line, count: width)
                }
            }
        }
    }

    /// Bᵀ x for a column x of six, with Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0;
    /// 0 2 −1 −2 1 0; 0 4 0 −5 0 1], lane-wise.
    @inline(__always)
    static func inputTransform(_ x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>,
                               _ x4: SIMD8<Float>, _ x5: SIMD8<Float>)
        -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let d13 = x1 - x3, s4m2 = x4 - x2
        return (4 * x0 - 5 * x2 + x4, x3 + x4 - 4 * (x1 + x2), 4 * (x1 - x2) - x3 + x4,
                s4m2 - 2 * d13, s4m2 + 2 * d13, 4 * x1 - 5 * x3 + x5)
    }

    /// Aᵀ x for a column x of six, with Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1], lane-wise.
    @inline(__always)
    static func outputTransform(_ m0: SIMD8<Float>, _ m1: SIMD8<Float>, _ m2: SIMD8<Float>, _ m3: SIMD8<Float>,
                                _ m4: SIMD8<Float>, _ m5: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        let s12 = m1 + m2, d12 = m1 - m2, s34 = m3 + m4, d34 = m3 - m4
        return (m0 + s12 + s34, d12 + 2 * d34, s12 + 4 * s34, d12 + 8 * d34 + m5)
    }
}

@inline(__always)
private func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func load8(_ pointer: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
private func store8(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
}

/// The first `count` lanes of `value` (a whole vector when count is 8).
@inline(__always)
private func store(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
    if count == 8 {
        store8(value, pointer)
    } else {
        for lane in 0..<count { pointer[lane] = value[lane] }
    }
}
