import CKernels
import XCTest

/// The 3×3 block kernel (GroupedConvolution.h): the portable variant against the sum in double, and every wider
/// variant this CPU runs against the portable one. The wide variants fuse multiply and add, so they agree with
/// the portable one to rounding: |Δ| ≤ 1e-5 · Σ|w·x| (a float sum of 576 products is good to ~1e-6 of it).
final class GroupedConvolutionKernelTests: XCTestCase {
    /// (input channels, height, width, stride): ECA-NFNet's planes, and sizes that leave strips of 4 and 1.
    let cases: [(inPerGroup: Int, height: Int, width: Int, stride: Int)] = [
        (64, 14, 14, 1), (64, 7, 7, 1), (64, 28, 28, 2), (64, 14, 14, 2), (5, 6, 13, 1), (3, 9, 12, 2), (1, 1, 1, 1),
    ]
    let outChannels = 64  // two blocks of 32

    func testPortableVariantEqualsTheSumInDouble() throws {
        let portable = try XCTUnwrap(ck_conv3x3_block_variant(CK_ISA_PORTABLE))
        for c in cases {
            let problem = Problem(inPerGroup: c.inPerGroup, height: c.height, width: c.width, stride: c.stride, outChannels: outChannels)
            let (expected, magnitude) = problem.reference()
            let output = problem.run(portable)
            for i in output.indices {
                XCTAssertEqual(Double(output[i]), expected[i], accuracy: 1e-5 * magnitude[i] + 1e-30, "\(c) at \(i)")
            }
        }
    }

    func testEveryVariantAgreesWithThePortableOne() throws {
        let portable = try XCTUnwrap(ck_conv3x3_block_variant(CK_ISA_PORTABLE))
        let wide = [CK_ISA_AVX2, CK_ISA_AVX512].compactMap { ck_conv3x3_block_variant($0) }
        if wide.isEmpty { print("conv3x3: this CPU runs only the portable variant") }
        XCTAssertNotNil(ck_conv3x3_block())
        for variant in wide {
            for c in cases {
                let problem = Problem(inPerGroup: c.inPerGroup, height: c.height, width: c.width, stride: c.stride, outChannels: outChannels)
                let (_, magnitude) = problem.reference()
                let (a, b) = (problem.run(variant), problem.run(portable))
                for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: Float(1e-5 * magnitude[i]) + 1e-30, "\(c) at \(i)") }
            }
        }
    }

    /// One image, one group: weights [out][in][3][3], input planes with their zero border, outputs [out][oh][ow].
    struct Problem {
        let inPerGroup, height, width, stride, outChannels: Int
        let weight: [Float]
        let padded: [Float]
        var outputHeight: Int { (height - 1) / stride + 1 }
        var outputWidth: Int { (width - 1) / stride + 1 }
        var paddedHeight: Int { height + 2 }
        var paddedWidth: Int { width + 2 }

        init(inPerGroup: Int, height: Int, width: Int, stride: Int, outChannels: Int) {
            (self.inPerGroup, self.height, self.width, self.stride, self.outChannels) = (inPerGroup, height, width, stride, outChannels)
            var generator = SplitMix(seed: UInt64(inPerGroup * 1000 + height * 10 + stride))
            weight = (0..<(outChannels * inPerGroup * 9)).map { _ in generator.uniform() - 0.5 }
            var padded = [Float](repeating: 0, count: inPerGroup * (height + 2) * (width + 2))
            for c in 0..<inPerGroup {
                for y in 0..<height {
                    for x in 0..<width { padded[(c * (height + 2) + y + 1) * (width + 2) + x + 1] = 4 * generator.uniform() - 2 }
                }
            }
            self.padded = padded
        }

        /// The outputs in double, and Σ|w·x| of each (the scale of its rounding).
        func reference() -> (values: [Double], magnitudes: [Double]) {
            var values = [Double](repeating: 0, count: outChannels * outputHeight * outputWidth), magnitudes = values
            for o in 0..<outChannels {
                for y in 0..<outputHeight {
                    for x in 0..<outputWidth {
                        var (sum, magnitude) = (0.0, 0.0)
                        for c in 0..<inPerGroup {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let product = Double(weight[(o * inPerGroup + c) * 9 + ky * 3 + kx])
                                        * Double(padded[(c * paddedHeight + y * stride + ky) * paddedWidth + x * stride + kx])
                                    sum += product
                                    magnitude += abs(product)
                                }
                            }
                        }
                        values[(o * outputHeight + y) * outputWidth + x] = sum
                        magnitudes[(o * outputHeight + y) * outputWidth + x] = magnitude
                    }
                }
            }
            return (values, magnitudes)
        }

        func run(_ kernel: ck_conv3x3_block_fn) -> [Float] {
            var packed = [Float](repeating: 0, count: weight.count)
            ck_conv3x3_pack(weight, outChannels, inPerGroup, &packed)
            let plane = outputHeight * outputWidth
            var output = [Float](repeating: .nan, count: outChannels * plane)
            packed.withUnsafeBufferPointer { blocks in
                output.withUnsafeMutableBufferPointer { out in
                    for block in Swift.stride(from: 0, to: outChannels, by: Int(CK_CONV3X3_BLOCK)) {
                        kernel(padded, paddedHeight, paddedWidth, inPerGroup, blocks.baseAddress! + block * inPerGroup * 9,
                               stride, outputHeight, outputWidth, out.baseAddress! + block * plane, plane)
                    }
                }
            }
            return output
        }
    }
}

/// A small deterministic generator (SplitMix64), so that a failure reproduces.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func uniform() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Float((z ^ (z >> 31)) >> 40) / Float(1 << 24)
    }
}
