import CKernels
import XCTest

/// The grouped Winograd's kernels: the band transforms (CWinograd.h's input_band and output_band) give bit for bit
/// what the per-tile-row transforms give, in every variant, for bands that start inside an image and run across
/// images; the element products (CWinogradGEMM.h) of the portable variant equal the sum in double, and every wider
/// variant agrees with the portable one. The wide products fuse multiply and add: they differ by rounding only,
/// |Δ| ≤ 1e-5 · Σ|u·v| (a float sum of up to 64 products is good to ~1e-6 of it).
final class WinogradBandKernelTests: XCTestCase {
    var variants: [ck_winograd_kernels] {
        [CK_ISA_PORTABLE, CK_ISA_AVX2, CK_ISA_AVX512].compactMap { ck_winograd_variant($0)?.pointee }
    }
    /// (height, width, images, first band row, band rows): ECA-NFNet's 7², 14², 28² planes, partial tiles, a lone
    /// pixel, bands starting mid-image and crossing images, and a band wider than one vector of tiles.
    static let bands = [(7, 7, 3, 1, 5), (14, 14, 2, 2, 5), (28, 28, 1, 0, 7), (5, 13, 4, 3, 5), (1, 1, 5, 0, 5),
                        (9, 6, 2, 0, 6), (13, 70, 1, 1, 2)]

    func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -2...2) } }

    func testInputBandEqualsTheTileRowTransformBitForBit() {
        for variant in variants {
            let name = String(cString: variant.name)
            for (height, width, images, firstRow, rows) in Self.bands {
                let (tileRows, tileColumns) = ((height + 3) / 4, (width + 3) / 4)
                let planes = random(images * height * width), tiles = rows * tileColumns
                var band = [Float](repeating: .nan, count: 36 * tiles)
                var buffer = [Float](repeating: .nan, count: ck_winograd_band_buffer_floats(tiles))
                planes.withUnsafeBufferPointer { x in
                    variant.input_band(x.baseAddress, height * width, height, width, tileRows, firstRow, rows, tileColumns,
                                       &band, tiles, &buffer)
                }
                for j in 0..<rows {
                    let (image, ty) = (firstRow + j).quotientAndRemainder(dividingBy: tileRows)
                    var expected = [Float](repeating: .nan, count: 36 * tileColumns)
                    var rowBuffer = [Float](repeating: .nan, count: ck_winograd_buffer_floats(tileColumns))
                    planes.withUnsafeBufferPointer { x in
                        variant.input_tiles(x.baseAddress! + image * height * width, height, width, ty, tileColumns, &expected,
                                            tileColumns, &rowBuffer)
                    }
                    for e in 0..<36 {
                        XCTAssertEqual(band[(e * tiles + j * tileColumns)..<(e * tiles + (j + 1) * tileColumns)].map(\.bitPattern),
                                       expected[(e * tileColumns)..<((e + 1) * tileColumns)].map(\.bitPattern),
                                       "\(name) \(height)×\(width) band row \(j) element \(e)")
                    }
                }
            }
        }
    }

    func testOutputBandEqualsTheTileRowTransformBitForBit() {
        for variant in variants {
            let name = String(cString: variant.name)
            for (height, width, images, firstRow, rows) in Self.bands {
                let (tileRows, tileColumns) = ((height + 3) / 4, (width + 3) / 4)
                let tiles = rows * tileColumns
                let m = random(36 * tiles) + [Float](repeating: 0, count: Int(CK_WINOGRAD_READ_PAST))
                let sentinel = Float(-7)
                var planes = [Float](repeating: sentinel, count: images * height * width)
                var expected = planes
                var buffer = [Float](repeating: .nan, count: ck_winograd_band_buffer_floats(tiles))
                m.withUnsafeBufferPointer { m in
                    variant.output_band(m.baseAddress, tiles, tileRows, firstRow, rows, tileColumns, &planes, height * width,
                                        height, width, &buffer)
                    expected.withUnsafeMutableBufferPointer { out in
                        for j in 0..<rows {
                            let (image, ty) = (firstRow + j).quotientAndRemainder(dividingBy: tileRows)
                            variant.output_tiles(m.baseAddress! + j * tileColumns, tiles, tileColumns,
                                                 out.baseAddress! + image * height * width, height, width, ty)
                        }
                    }
                }
                // Rows outside the band keep the sentinel on both sides.
                XCTAssertEqual(planes.map(\.bitPattern), expected.map(\.bitPattern), "\(name) \(height)×\(width) from row \(firstRow)")
                XCTAssertTrue(planes.contains { $0 != sentinel }, "\(name) \(height)×\(width) wrote nothing")
            }
        }
    }

    /// (m, k, n, ldv, ldc): ECA-NFNet's group (64 × 64) at 4, 16, 49 and 96 tiles, the stem's 16 → 32, and small
    /// or ragged shapes with strides past n.
    static let products = [(64, 64, 4, 4, 4), (64, 64, 16, 16, 16), (64, 64, 49, 52, 50), (64, 64, 96, 96, 96),
                           (32, 16, 84, 84, 84), (8, 5, 1, 3, 2), (16, 3, 47, 50, 60), (24, 64, 33, 33, 40)]

    func testPortableProductsEqualTheSumInDouble() throws {
        let portable = try XCTUnwrap(ck_winograd_gemm_variant(CK_ISA_PORTABLE))
        for shape in Self.products {
            let problem = Product(shape)
            let (expected, magnitude) = problem.reference()
            let c = problem.run(portable)
            for r in 0..<problem.m {
                for j in 0..<problem.ldc {
                    let index = r * problem.ldc + j
                    if j < problem.n {
                        XCTAssertEqual(Double(c[index]), expected[r * problem.n + j], accuracy: 1e-5 * magnitude[r * problem.n + j] + 1e-30,
                                       "\(shape) at (\(r), \(j))")
                    } else {
                        XCTAssertEqual(c[index], Product.untouched, "\(shape) wrote past n at (\(r), \(j))")
                    }
                }
            }
        }
    }

    func testEveryProductVariantAgreesWithThePortableOne() throws {
        let portable = try XCTUnwrap(ck_winograd_gemm_variant(CK_ISA_PORTABLE))
        let wide = [CK_ISA_AVX2, CK_ISA_AVX512].compactMap { ck_winograd_gemm_variant($0) }
        if wide.isEmpty { print("winograd gemm: this CPU runs only the portable variant") }
        XCTAssertNotNil(ck_winograd_gemm())
        for variant in wide {
            for shape in Self.products {
                let problem = Product(shape)
                let (_, magnitude) = problem.reference()
                let (a, b) = (problem.run(variant), problem.run(portable))
                for r in 0..<problem.m {
                    for j in 0..<problem.ldc {
                        let index = r * problem.ldc + j
                        let tolerance = j < problem.n ? Float(1e-5 * magnitude[r * problem.n + j]) + 1e-30 : 0
                        XCTAssertEqual(a[index], b[index], accuracy: tolerance, "\(shape) at (\(r), \(j))")
                    }
                }
            }
        }
    }

    /// u [k][m], v [k][ldv] (with the read-past slack), c [m][ldc] filled with `untouched`.
    struct Product {
        static let untouched = Float(12345)
        let m, k, n, ldv, ldc: Int
        let u, v: [Float]

        init(_ shape: (Int, Int, Int, Int, Int)) {
            (m, k, n, ldv, ldc) = shape
            u = (0..<(k * m)).map { _ in Float.random(in: -1...1) }
            v = (0..<(k * ldv + Int(CK_WINOGRAD_GEMM_READ_PAST))).map { _ in Float.random(in: -3...3) }
        }

        func run(_ gemm: ck_winograd_gemm_fn) -> [Float] {
            var c = [Float](repeating: Self.untouched, count: m * ldc)
            gemm(u, m, k, v, ldv, n, &c, ldc)
            return c
        }

        /// Σ u·v and Σ |u·v| in double, [m][n].
        func reference() -> ([Double], [Double]) {
            var sum = [Double](repeating: 0, count: m * n), magnitude = sum
            for r in 0..<m {
                for j in 0..<n {
                    for kk in 0..<k {
                        let product = Double(u[kk * m + r]) * Double(v[kk * ldv + j])
                        sum[r * n + j] += product
                        magnitude[r * n + j] += abs(product)
                    }
                }
            }
            return (sum, magnitude)
        }
    }
}
