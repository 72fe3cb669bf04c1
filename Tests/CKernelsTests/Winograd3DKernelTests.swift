import CKernels
import XCTest

/// The F(2×2×2, 3×3×3) transforms (CWinograd3D.h): every variant this CPU runs gives bit for bit what the portable
/// one gives, on volumes with partial tiles and row segments that start and end inside tile groups, and the portable
/// one computes Bᵀ d B, Aᵀ M A (with the addend, bias and ReLU) and G g Gᵀ along the three axes (against the
/// matrices in double: float sums of up to 27 terms allow 1e-5 relative; U is rounded once from double, 1e-7).
final class Winograd3DKernelTests: XCTestCase {
    let portable = ck_winograd3d_variant(CK_ISA_PORTABLE)!.pointee
    var wideVariants: [ck_winograd3d_kernels] { [CK_ISA_AVX2, CK_ISA_AVX512].compactMap { ck_winograd3d_variant($0)?.pointee } }

    static let bT: [[Double]] = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    static let aT: [[Double]] = [[1, 1, 1, 0], [0, 1, -1, -1]]
    static let g: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
    /// (depth, height, width): one voxel, odd sizes, rows of 1–3 tiles past a group of 4, 8 or 16, a row of 40.
    static let volumes = [(1, 1, 1), (3, 5, 7), (4, 4, 9), (5, 3, 17), (2, 6, 33), (3, 2, 80)]

    func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -2...2) } }

    /// Row segments (first tile, count) of a row of `columns` tiles: the whole row and pieces starting inside it.
    func segments(_ columns: Int) -> [(Int, Int)] {
        Set([(0, columns), (columns / 3, columns - columns / 3), (1, max(0, columns - 2)), (columns - 1, 1)].filter { $0.1 > 0 }
            .map { [$0.0, $0.1] }).map { ($0[0], $0[1]) }
    }

    func testEveryVariantEqualsThePortableOneBitForBit() {
        if wideVariants.isEmpty { print("winograd3d: this CPU runs only the portable variant") }
        for variant in wideVariants {
            let name = String(cString: variant.name)
            for (depth, height, width) in Self.volumes {
                let volume = random(depth * height * width)
                let columns = (width + 1) / 2
                for tz in 0..<(depth + 1) / 2 { for ty in 0..<(height + 1) / 2 { for (first, count) in segments(columns) {
                    XCTAssertEqual(inputTiles(variant, volume, (depth, height, width), tz, ty, first, count).map(\.bitPattern),
                                   inputTiles(portable, volume, (depth, height, width), tz, ty, first, count).map(\.bitPattern),
                                   "\(name) input \(depth)×\(height)×\(width) tile row (\(tz), \(ty)) tiles \(first)+\(count)")
                }}}
                for (first, count) in segments(columns) {
                    let m = random(64 * count), addend = random(8 * width)
                    for (planes, rows, accumulate, relu) in [(2, 2, false, false), (1, 2, true, true), (2, 1, true, false), (1, 1, false, true)] {
                        let epilogue = Epilogue(planes: planes, rows: rows, bias: 0.25, accumulate: accumulate, relu: relu)
                        XCTAssertEqual(outputTiles(variant, m, first, count, width, addend, epilogue).map(\.bitPattern),
                                       outputTiles(portable, m, first, count, width, addend, epilogue).map(\.bitPattern),
                                       "\(name) output width \(width) tiles \(first)+\(count) \(epilogue)")
                    }
                }
            }
        }
    }

    func testThePortableInputTransformIsBtDB() {
        for (depth, height, width) in Self.volumes {
            let volume = random(depth * height * width)
            let columns = (width + 1) / 2
            for tz in 0..<(depth + 1) / 2 { for ty in 0..<(height + 1) / 2 { for (first, count) in segments(columns) {
                let v = inputTiles(portable, volume, (depth, height, width), tz, ty, first, count)
                for t in 0..<count {
                    // d: the 4×4×4 window at planes 2·tz − 1…, rows 2·ty − 1…, columns 2·tx − 1…, zeros outside.
                    let tx = first + t
                    let d = cube(4) { i, j, k in
                        let (z, y, x) = (2 * tz + i - 1, 2 * ty + j - 1, 2 * tx + k - 1)
                        let inside = (0..<depth).contains(z) && (0..<height).contains(y) && (0..<width).contains(x)
                        return inside ? Double(volume[(z * height + y) * width + x]) : 0
                    }
                    let expected = transformed(d, by: Self.bT)
                    for e in 0..<64 {
                        let value = expected[e / 16][e / 4 % 4][e % 4]
                        XCTAssertEqual(Double(v[e * count + t]), value, accuracy: 1e-5 * max(1, abs(value)),
                                       "\(depth)×\(height)×\(width) tile (\(tz), \(ty), \(tx)) point \(e)")
                    }
                }
            }}}
        }
    }

    func testThePortableOutputTransformIsAtMAWithItsEpilogue() {
        let width = 21, (first, count) = (2, 7)
        let m = random(64 * count), addend = random(8 * width)
        for (accumulate, relu) in [(false, false), (true, true)] {
            let epilogue = Epilogue(planes: 2, rows: 2, bias: -0.5, accumulate: accumulate, relu: relu)
            let out = outputTiles(portable, m, first, count, width, addend, epilogue)
            for t in 0..<count {
                let tile = cube(4) { i, j, k in Double(m[(16 * i + 4 * j + k) * count + t]) }
                let y = transformed(tile, by: Self.aT)
                for p in 0..<2 { for r in 0..<2 { for c in 0..<2 {
                    let index = (p * 2 + r) * width + 2 * (first + t) + c
                    var value = (accumulate ? Double(addend[index]) : 0) + y[p][r][c] - 0.5
                    if relu { value = max(value, 0) }
                    XCTAssertEqual(Double(out[index]), value, accuracy: 1e-5 * max(1, abs(value)), "tile \(first + t) (\(p), \(r), \(c))")
                }}}
            }
            // Columns outside the tiles keep what the output held.
            XCTAssertEqual(out[0..<4].map(\.bitPattern), addend[0..<4].map(\.bitPattern))
            XCTAssertEqual(out[18..<21].map(\.bitPattern), addend[18..<21].map(\.bitPattern))
        }
    }

    func testTheWeightTransformIsGgGt() {
        let count = 37
        let raw = random(27 * count)
        var u = [Float](repeating: .nan, count: 64 * count)
        ck_winograd3d_weights(raw, count, &u, count)
        for p in 0..<count {
            let kernel = cube(3) { i, j, k in Double(raw[27 * p + 9 * i + 3 * j + k]) }
            let expected = transformed(kernel, by: Self.g)
            for e in 0..<64 {
                let value = expected[e / 16][e / 4 % 4][e % 4]
                XCTAssertEqual(Double(u[e * count + p]), value, accuracy: 1e-7 * max(1, abs(value)), "kernel \(p) point \(e)")
            }
        }
    }

    /// V of `count` tiles from `first` of tile row (tz, ty): point e of tile t at [e · count + t].
    private func inputTiles(_ kernels: ck_winograd3d_kernels, _ volume: [Float], _ size: (Int, Int, Int), _ tz: Int, _ ty: Int,
                            _ first: Int, _ count: Int) -> [Float] {
        var v = [Float](repeating: .nan, count: 64 * count)
        var buffer = [Float](repeating: .nan, count: ck_winograd3d_buffer_floats(count))
        volume.withUnsafeBufferPointer { x in
            v.withUnsafeMutableBufferPointer { out in
                buffer.withUnsafeMutableBufferPointer {
                    kernels.input_tiles(x.baseAddress, size.0, size.1, size.2, 2 * tz - 1, 2 * ty - 1, first, count, out.baseAddress, count,
                                        $0.baseAddress)
                }
            }
        }
        return v
    }

    struct Epilogue: CustomStringConvertible {
        let planes: Int, rows: Int, bias: Float, accumulate: Bool, relu: Bool
        var description: String { "planes \(planes) rows \(rows) accumulate \(accumulate) relu \(relu)" }
    }

    /// Two planes of two rows `width` wide holding `addend`, after the output transform of M [64][count] into them.
    private func outputTiles(_ kernels: ck_winograd3d_kernels, _ m: [Float], _ first: Int, _ count: Int, _ width: Int,
                             _ addend: [Float], _ epilogue: Epilogue) -> [Float] {
        let padded = m + [Float](repeating: 0, count: Int(CK_WINOGRAD3D_READ_PAST))
        var out = addend
        padded.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer {
                kernels.output_tiles(input.baseAddress, count, first, count, $0.baseAddress, 2 * width, epilogue.planes, epilogue.rows, width,
                                     epilogue.bias, epilogue.accumulate ? 1 : 0, epilogue.relu ? 1 : 0)
            }
        }
        return out
    }

    private func cube(_ side: Int, _ value: (Int, Int, Int) -> Double) -> [[[Double]]] {
        (0..<side).map { i in (0..<side).map { j in (0..<side).map { k in value(i, j, k) } } }
    }

    /// x with `matrix` applied along each of its three axes: Σ matrix[a][i] matrix[b][j] matrix[c][k] x[i][j][k].
    private func transformed(_ x: [[[Double]]], by matrix: [[Double]]) -> [[[Double]]] {
        let n = x.count
        return cube(matrix.count) { a, b, c in
            var sum = 0.0
            for i in 0..<n { for j in 0..<n { for k in 0..<n { sum += matrix[a][i] * matrix[b][j] * matrix[c][k] * x[i][j][k] } } }
            return sum
        }
    }
}
