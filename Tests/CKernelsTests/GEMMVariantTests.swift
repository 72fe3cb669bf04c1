import CKernels
import XCTest

/// The packed GEMM against a double-precision product, every variant this CPU runs: tiles cut at the edges
/// (m, n not multiples of the micro-tile), k in two blocks (the second accumulating onto the first), an addend
/// already in C, bias and ReLU on the last block. The wide variants fuse multiply and add, so they agree with the
/// portable one (and with the exact product) to rounding: within 1e-6 of Σ|a·b| per element, several times the
/// float32 error of a k = 300 sum.
final class GEMMVariantTests: XCTestCase {
    var variants: [ck_gemm] {
        [CK_ISA_PORTABLE, CK_ISA_AVX2, CK_ISA_AVX512].compactMap { ck_gemm_variant($0)?.pointee }
    }

    func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        }
    }

    func testEveryVariantMatchesTheExactProduct() {
        XCTAssertEqual(String(cString: ck_gemm_active().pointee.name), String(cString: ck_active().pointee.name))
        assertEveryVariantMatchesTheExactProduct([(13, 300, 53), (64, 37, 200), (1, 5, 1), (8, 1, 48)])
    }

    /// A last strip narrower than nr runs as a strip of only the vectors it needs, down to one of half a vector's
    /// width, or, with fewer columns than a panel has rows (mr 8 and 4), column by column: n = 68, 57, 52, 44, 39,
    /// 49 end in strips of 2, 1, columns (4), 3, 3 vectors, columns (1) on AVX-512 (nr 48); half, 2, half, 2, 1,
    /// 1 on AVX2 (nr 16); 1, half, 1, 1, 2, columns (1) on the portable variant (nr 8).
    func testNarrowLastStripsMatchTheExactProduct() {
        assertEveryVariantMatchesTheExactProduct([(9, 40, 68), (16, 29, 57), (7, 33, 52), (11, 12, 44), (5, 21, 39), (19, 50, 49)])
    }

    /// The column-by-column last strip does each output's multiply-adds in a strip's order: column n − 1 of a
    /// product whose last strip is that one column has the bits the same column gets as the first of a full strip.
    func testColumnByColumnLastStripGivesAStripsBits() {
        for variant in variants {
            let (m, k, nr) = (21, 70, Int(variant.nr))
            let n = nr + 1
            let a = values(m * k, seed: 6), b = values(k * n, seed: 7), bias = values(m, seed: 8)
            // B' holds B's last column first, then its first nr − 1 columns: one full strip.
            var moved = [Float](repeating: 0, count: (k + 1) * nr)
            for p in 0..<k {
                moved[p * nr] = b[p * n + n - 1]
                for j in 0..<(nr - 1) { moved[p * nr + 1 + j] = b[p * n + j] }
            }
            let slack = [Float](repeating: 0, count: nr)
            var packed = [Float](repeating: 0, count: ck_gemm_packed_count([variant], m, k))
            withUnsafePointer(to: variant) { ck_gemm_pack_a($0, a, m, k, &packed) }
            var alone = [Float](repeating: 0, count: m * n), inStrip = [Float](repeating: 0, count: m * nr)
            variant.multiply(packed, m, k, 0, k, b + slack, (0..<k).map { $0 * n }, n, &alone, n, 0, 1, bias, 0)
            variant.multiply(packed, m, k, 0, k, moved, (0..<k).map { $0 * nr }, nr, &inStrip, nr, 0, 1, bias, 0)
            for i in 0..<m {
                XCTAssertEqual(alone[i * n + n - 1].bitPattern, inStrip[i * nr].bitPattern, "\(String(cString: variant.name)) row \(i)")
            }
        }
    }

    func assertEveryVariantMatchesTheExactProduct(_ shapes: [(m: Int, k: Int, n: Int)]) {
        for (m, k, n) in shapes {
            let ldb = n + 7, ldc = n + 3
            let a = values(m * k, seed: 1), b = values(k * ldb + 64, seed: 2), bias = values(m, seed: 3)
            let addend = values(m * ldc, seed: 4)
            let split = k / 2
            for variant in variants {
                let name = String(cString: variant.name)
                for (accumulate, relu) in [(false, false), (true, true), (false, true)] {
                    var packed = [Float](repeating: .nan, count: ck_gemm_packed_count([variant], m, k))
                    withUnsafePointer(to: variant) { ck_gemm_pack_a($0, a, m, k, &packed) }
                    var c = addend
                    let offsets = (0..<k).map { $0 * ldb }
                    b.withUnsafeBufferPointer { b in
                        // Two blocks of k: rows 0..<split, then split..<k, which finishes.
                        if split > 0 {
                            variant.multiply(packed, m, k, 0, split, b.baseAddress, offsets, n, &c, ldc, accumulate ? 1 : 0, 0, nil, 0)
                        }
                        variant.multiply(packed, m, k, split, k - split, b.baseAddress!, Array(offsets[split...]), n, &c, ldc,
                                         accumulate || split > 0 ? 1 : 0, 1, bias, relu ? 1 : 0)
                    }
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<ldc {
                            guard j < n else {
                                XCTAssertEqual(c[i * ldc + j].bitPattern, addend[i * ldc + j].bitPattern, "\(name): past n")
                                continue
                            }
                            var exact = (accumulate ? Double(addend[i * ldc + j]) : 0) + Double(bias[i]), magnitude = 0.0
                            for p in 0..<k {
                                exact += Double(a[i * k + p]) * Double(b[p * ldb + j])
                                magnitude += abs(Double(a[i * k + p]) * Double(b[p * ldb + j]))
                            }
                            if relu { exact = max(exact, 0) }
                            worst = max(worst, abs(Double(c[i * ldc + j]) - exact) / max(magnitude, 1))
                        }
                    }
                    XCTAssertLessThan(worst, 1e-6, "\(name) m \(m) k \(k) n \(n) accumulate \(accumulate) relu \(relu)")
                }
            }
        }
    }

    func testPackingPadsTheLastPanelWithZeroRows() {
        for variant in variants {
            let (m, k) = (Int(variant.mr) + 1, 3)
            let a = values(m * k, seed: 5)
            var packed = [Float](repeating: .nan, count: ck_gemm_packed_count([variant], m, k))
            XCTAssertEqual(packed.count, 2 * Int(variant.mr) * k)
            withUnsafePointer(to: variant) { ck_gemm_pack_a($0, a, m, k, &packed) }
            let mr = Int(variant.mr)
            for row in 0..<2 * mr {
                for p in 0..<k {
                    let stored = packed[(row / mr * k + p) * mr + row % mr]
                    XCTAssertEqual(stored, row < m ? a[row * k + p] : 0, "\(String(cString: variant.name)) row \(row) k \(p)")
                }
            }
        }
    }
}
