import CKernels
import Foundation
import XCTest

/// Every instruction-set variant this CPU can run gives bit for bit what the portable one gives, and the portable
/// one is right (against double-precision formulas).
final class KernelVariantTests: XCTestCase {
    let portable = ck_variant(CK_ISA_PORTABLE)!.pointee

    /// Lengths that hit the 16- and 8-wide bodies and every tail; values over the exp's clamped range and beyond.
    var inputs: [[Float]] {
        var generator = SystemRandomNumberGenerator()
        let lengths = Array(0...40) + [255, 1024 + 13]
        return lengths.map { n in
            (0..<n).map { i in
                switch i % 7 {
                case 0: return Float.random(in: -120...120, using: &generator)
                case 1: return [-Float.infinity, .infinity, 0, -0.0, 88.5, -87.5, 1e-30][i / 7 % 7]
                default: return Float.random(in: -6...6, using: &generator)
                }
            }
        }
    }

    var wideVariants: [ck_kernels] {
        [CK_ISA_AVX2, CK_ISA_AVX512].compactMap { ck_variant($0)?.pointee }
    }

    func testTheActiveVariantIsTheWidestTheCPUHas() throws {
        try XCTSkipIf(ProcessInfo.processInfo.environment["MGMT_KERNELS"] != nil, "MGMT_KERNELS picks the variant")
        let widest = [CK_ISA_AVX512, CK_ISA_AVX2, CK_ISA_PORTABLE].first { ck_variant($0) != nil }!
        XCTAssertEqual(ck_active().pointee.isa, widest)
        print("kernels: active variant \(String(cString: ck_active().pointee.name))")
    }

    func testEveryVariantEqualsThePortableOneBitForBit() throws {
        let portable = self.portable
        if wideVariants.isEmpty { print("kernels: this CPU runs only the portable variant") }
        for variant in wideVariants {
            let name = String(cString: variant.name)
            for x in inputs {
                let addend = x.reversed().map { $0 * 0.5 }
                for (label, wide, reference) in [
                    ("silu", run { variant.silu($0, $1, $2, 0.25, 0.9806) }, run { portable.silu($0, $1, $2, 0.25, 0.9806) }),
                    ("sigmoid", run { variant.sigmoid($0, $1, $2, -0.5) }, run { portable.sigmoid($0, $1, $2, -0.5) }),
                    ("bias_relu", run { variant.bias_relu($0, $1, $2, 0.1) }, run { portable.bias_relu($0, $1, $2, 0.1) }),
                ] {
                    let (a, b) = (wide(x), reference(x))
                    XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(name) \(label), n = \(x.count)")
                }
                let scaled = scaleAdd(variant, x, 0.4, addend), scaledReference = scaleAdd(portable, x, 0.4, addend)
                XCTAssertEqual(scaled.map(\.bitPattern), scaledReference.map(\.bitPattern), "\(name) scale_add, n = \(x.count)")
                let finite = x.filter(\.isFinite)
                let sum = finite.withUnsafeBufferPointer { variant.sum($0.baseAddress, $0.count) }
                let sumReference = finite.withUnsafeBufferPointer { portable.sum($0.baseAddress, $0.count) }
                XCTAssertEqual(sum.bitPattern, sumReference.bitPattern, "\(name) sum, n = \(finite.count)")
            }
        }
    }

    func testThePortableVariantComputesTheFormulas() {
        let portable = self.portable
        for x in inputs {
            let silu = run { portable.silu($0, $1, $2, 0.25, 0.9806) }(x)
            let sigmoid = run { portable.sigmoid($0, $1, $2, -0.5) }(x)
            let relu = run { portable.bias_relu($0, $1, $2, 0.1) }(x)
            for (i, value) in x.enumerated() where value.isFinite {
                let v = Double(value) + 0.25
                let expectedSiLU = v / (1 + Foundation.exp(-v)) * 0.9806
                XCTAssertEqual(Double(silu[i]), expectedSiLU, accuracy: 4e-7 * max(1, abs(expectedSiLU)), "silu(\(value))")
                XCTAssertEqual(Double(sigmoid[i]), 1 / (1 + Foundation.exp(-(Double(value) - 0.5))), accuracy: 2e-7, "sigmoid(\(value))")
                XCTAssertEqual(relu[i], max(value + 0.1, 0))
            }
            let finite = x.filter(\.isFinite)
            let sum = finite.withUnsafeBufferPointer { portable.sum($0.baseAddress, $0.count) }
            XCTAssertEqual(sum, finite.reduce(0.0) { $0 + Double($1) }, accuracy: 1e-9 * max(1, Double(finite.count)))
        }
    }

    func testKernelsWorkInPlace() {
        let x: [Float] = (0..<37).map { Float($0) / 4 - 4 }
        for variant in [portable] + wideVariants {
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { variant.silu($0.baseAddress, $0.baseAddress, $0.count, 0, 1) }
            XCTAssertEqual(inPlace, run { variant.silu($0, $1, $2, 0, 1) }(x))
        }
    }

    /// A kernel of shape (input, output, count) as an array function.
    private func run(_ kernel: @escaping (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int) -> Void) -> ([Float]) -> [Float] {
        { x in
            var out = [Float](repeating: .nan, count: x.count)
            x.withUnsafeBufferPointer { input in
                out.withUnsafeMutableBufferPointer { kernel(input.baseAddress, $0.baseAddress, x.count) }
            }
            return out
        }
    }

    private func scaleAdd(_ variant: ck_kernels, _ x: [Float], _ scale: Float, _ addend: [Float]) -> [Float] {
        var out = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { input in
            addend.withUnsafeBufferPointer { add in
                out.withUnsafeMutableBufferPointer { variant.scale_add(input.baseAddress, scale, add.baseAddress, $0.baseAddress, x.count) }
            }
        }
        return out
    }
}
