import Inference
import XCTest

final class BLASTests: XCTestCase {
    /// sgemm against a naive triple loop, for odd sizes, every transpose combination and non-trivial alpha/beta.
    func testSgemmMatchesNaiveProduct() {
        let (m, n, k) = (7, 13, 5)
        var seed: UInt32 = 1
        func next() -> Float { seed = seed &* 1_664_525 &+ 1_013_904_223; return Float(seed >> 8) / Float(1 << 24) - 0.5 }
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                let a = (0..<(m * k)).map { _ in next() }, b = (0..<(k * n)).map { _ in next() }
                let c0 = (0..<(m * n)).map { _ in next() }
                func aAt(_ i: Int, _ p: Int) -> Float { transposeA ? a[p * m + i] : a[i * k + p] }
                func bAt(_ p: Int, _ j: Int) -> Float { transposeB ? b[j * k + p] : b[p * n + j] }
                var expected = c0
                for i in 0..<m { for j in 0..<n {
                    var sum: Float = 0
                    for p in 0..<k { sum += aAt(i, p) * bAt(p, j) }
                    expected[i * n + j] = 1.5 * sum + 0.5 * c0[i * n + j]
                } }
                var c = c0
                BLAS.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1.5,
                           a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, beta: 0.5, c: &c, ldc: n)
                XCTAssertLessThan(maxAbsDifference(c, expected), 1e-5, "transposeA \(transposeA) transposeB \(transposeB)")
            }
        }
    }

    func testThreadCountIsConfigurableAndCoreNameKnown() {
        let before = BLAS.threadCount
        BLAS.threadCount = 1
        XCTAssertEqual(BLAS.threadCount, 1)
        BLAS.threadCount = before
        XCTAssertFalse(BLAS.coreName.isEmpty)
        XCTAssertNotEqual(BLAS.coreName, "unknown")
    }
}
