import CKernels
import XCTest

/// The Winograd transforms (CWinograd.h): every variant this CPU runs gives bit for bit what the portable one gives,
/// on plane sizes with partial tile groups and partial tiles, and the portable one computes Bᵀ d B, Aᵀ M A and
/// G g Gᵀ (against the matrices in double precision; float rounding of sums of up to 36 terms allows 1e-5 relative).
final class WinogradKernelTests: XCTestCase {
    let portable = ck_winograd_variant(CK_ISA_PORTABLE)!.pointee
    var wideVariants: [ck_winograd_kernels] { [CK_ISA_AVX2, CK_ISA_AVX512].compactMap { ck_winograd_variant($0)?.pointee } }

    static let bT: [[Double]] = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                                 [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    static let aT: [[Double]] = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
    static let g: [[Double]] = [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                                [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]]
    /// (height, width): one tile, partial tiles, partial and whole groups of 4, 8 and 16 tiles.
    static let planes = [(1, 1), (3, 5), (4, 4), (7, 13), (14, 14), (28, 28), (17, 33), (9, 64), (5, 70)]

    func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -2...2) } }

    func testEveryVariantEqualsThePortableOneBitForBit() {
        if wideVariants.isEmpty { print("winograd: this CPU runs only the portable variant") }
        for variant in wideVariants {
            let name = String(cString: variant.name)
            for (height, width) in Self.planes {
                let plane = random(height * width)
                let (tileRows, tileColumns) = ((height + 3) / 4, (width + 3) / 4)
                for ty in 0..<tileRows {
                    XCTAssertEqual(inputTiles(variant, plane, height, width, ty).map(\.bitPattern),
                                   inputTiles(portable, plane, height, width, ty).map(\.bitPattern), "\(name) input \(height)×\(width) row \(ty)")
                }
                let m = random(36 * tileRows * tileColumns)
                XCTAssertEqual(outputTiles(variant, m, height, width).map(\.bitPattern),
                               outputTiles(portable, m, height, width).map(\.bitPattern), "\(name) output \(height)×\(width)")
            }
            for count in [1, 5, 16, 37, 64, 100] {
                let raw = random(9 * count)
                XCTAssertEqual(weightTiles(variant, raw, count).map(\.bitPattern), weightTiles(portable, raw, count).map(\.bitPattern),
                               "\(name) weights, \(count) kernels")
            }
        }
    }

    func testThePortableInputTransformIsBtDB() {
        for (height, width) in Self.planes {
            let plane = random(height * width)
            let tileColumns = (width + 3) / 4
            for ty in 0..<((height + 3) / 4) {
                let v = inputTiles(portable, plane, height, width, ty)
                for tx in 0..<tileColumns {
                    // d: the 6×6 window at padded rows 4·ty…, columns 4·tx… (image offset −1), zeros outside.
                    let d = (0..<6).map { i in
                        (0..<6).map { j -> Double in
                            let (y, x) = (4 * ty + i - 1, 4 * tx + j - 1)
                            return y >= 0 && y < height && x >= 0 && x < width ? Double(plane[y * width + x]) : 0
                        }
                    }
                    let expected = product(product(Self.bT, d), transpose(Self.bT))
                    for e in 0..<36 {
                        let value = expected[e / 6][e % 6]
                        XCTAssertEqual(Double(v[e * tileColumns + tx]), value, accuracy: 1e-5 * max(1, abs(value)), "\(height)×\(width) tile (\(ty), \(tx)) element \(e)")
                    }
                }
            }
        }
    }

    func testThePortableOutputTransformIsAtMA() {
        for (height, width) in Self.planes {
            let (tileRows, tileColumns) = ((height + 3) / 4, (width + 3) / 4)
            let tiles = tileRows * tileColumns
            let m = random(36 * tiles)
            let y = outputTiles(portable, m, height, width)
            for t in 0..<tiles {
                let tile = (0..<6).map { i in (0..<6).map { j in Double(m[(6 * i + j) * tiles + t]) } }
                let expected = product(product(Self.aT, tile), transpose(Self.aT))
                // Float rounding is relative to the terms' magnitudes (|Aᵀ|·|M|·|A|), not to a sum that may cancel.
                let absolute = Self.aT.map { $0.map(abs) }
                let magnitude = product(product(absolute, tile.map { $0.map(abs) }), transpose(absolute))
                let (ty, tx) = (t / tileColumns, t % tileColumns)
                for r in 0..<4 where 4 * ty + r < height {
                    for c in 0..<4 where 4 * tx + c < width {
                        XCTAssertEqual(Double(y[(4 * ty + r) * width + 4 * tx + c]), expected[r][c],
                                       accuracy: 1e-6 * magnitude[r][c] + 1e-12,
                                       "\(height)×\(width) tile (\(ty), \(tx)) at (\(r), \(c))")
                    }
                }
            }
        }
    }

    func testThePortableWeightTransformIsGgGt() {
        let count = 37
        let raw = random(9 * count)
        let u = weightTiles(portable, raw, count)
        for p in 0..<count {
            let kernel = (0..<3).map { a in (0..<3).map { b in Double(raw[(3 * a + b) * count + p]) } }
            let expected = product(product(Self.g, kernel), transpose(Self.g))
            for e in 0..<36 {
                let value = expected[e / 6][e % 6]
                XCTAssertEqual(Double(u[e * count + p]), value, accuracy: 1e-6 * max(1, abs(value)), "kernel \(p) element \(e)")
            }
        }
    }

    /// V of tile row `ty`, element e of tile tx at [e · tileColumns + tx].
    private func inputTiles(_ kernels: ck_winograd_kernels, _ plane: [Float], _ height: Int, _ width: Int, _ ty: Int) -> [Float] {
        let tileColumns = (width + 3) / 4
        var v = [Float](repeating: .nan, count: 36 * tileColumns)
        var buffer = [Float](repeating: .nan, count: ck_winograd_buffer_floats(tileColumns))
        plane.withUnsafeBufferPointer { x in
            v.withUnsafeMutableBufferPointer { out in
                buffer.withUnsafeMutableBufferPointer {
                    kernels.input_tiles(x.baseAddress, height, width, ty, tileColumns, out.baseAddress, tileColumns, $0.baseAddress)
                }
            }
        }
        return v
    }

    /// The output plane of M [36][tiles] (tiles row-major), every tile row.
    private func outputTiles(_ kernels: ck_winograd_kernels, _ m: [Float], _ height: Int, _ width: Int) -> [Float] {
        let (tileRows, tileColumns) = ((height + 3) / 4, (width + 3) / 4)
        let tiles = tileRows * tileColumns
        let padded = m + [Float](repeating: 0, count: Int(CK_WINOGRAD_READ_PAST))
        var y = [Float](repeating: .nan, count: height * width)
        padded.withUnsafeBufferPointer { input in
            y.withUnsafeMutableBufferPointer { out in
                for ty in 0..<tileRows {
                    kernels.output_tiles(input.baseAddress! + ty * tileColumns, tiles, tileColumns, out.baseAddress, height, width, ty)
                }
            }
        }
        return y
    }

    /// U [36][count] of `count` kernels stored as nine planes of `count`.
    private func weightTiles(_ kernels: ck_winograd_kernels, _ raw: [Float], _ count: Int) -> [Float] {
        var u = [Float](repeating: .nan, count: 36 * count)
        raw.withUnsafeBufferPointer { k in
            u.withUnsafeMutableBufferPointer { kernels.weight_tiles(k.baseAddress, count, count, $0.baseAddress, count) }
        }
        return u
    }

    private func product(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        a.map { row in (0..<b[0].count).map { j in zip(row, b).reduce(0) { $0 + $1.0 * $1.1[j] } } }
    }

    private func transpose(_ a: [[Double]]) -> [[Double]] { (0..<a[0].count).map { j in a.map { $0[j] } } }
}
