import Inference
import XCTest

/// The grouped Winograd form (`preferWinograd` on a 3×3 stride-1 convolution of small groups) against the sum in
/// double and against the form the convolution takes without Winograd (the direct grouped kernel, or im2col +
/// GEMM): several groups, a batch whose images share bands, planes that are not a multiple of the tile (7×7,
/// 13×11), bands that cross images, on 1 and 2 threads. F(4×4, 3×3) rounds a little more than a direct sum: with
/// weights in ±0.1 and inputs in ±1, outputs agree to 1e-4 (as the ungrouped Winograd form's tests allow).
final class GroupedWinogradTests: XCTestCase {
    struct Case {
        let inChannels, outChannels, groups, height, width, batch: Int
    }

    static let cases = [
        Case(inChannels: 192, outChannels: 192, groups: 3, height: 7, width: 7, batch: 3),  // 64-wide groups, 4 tiles an image
        Case(inChannels: 128, outChannels: 128, groups: 2, height: 13, width: 11, batch: 2),  // partial tiles
        Case(inChannels: 128, outChannels: 128, groups: 2, height: 28, width: 28, batch: 2),  // 13-row bands cross images
        Case(inChannels: 48, outChannels: 48, groups: 3, height: 14, width: 14, batch: 1),  // 16-wide groups
        Case(inChannels: 16, outChannels: 32, groups: 1, height: 30, width: 29, batch: 2),  // ungrouped (ECA-NFNet's stem)
    ]

    func testAgainstTheSumInDoubleAndTheDirectFormOnOneAndTwoThreads() throws {
        let before = BLAS.threadCount
        defer { BLAS.threadCount = before }
        for c in Self.cases {
            let weight = SeededWeights.uniform(key: "gw.w", count: c.outChannels * c.inChannels / c.groups * 9, low: -0.1, high: 0.1, baseSeed: 11)
            let bias = SeededWeights.uniform(key: "gw.b", count: c.outChannels, low: -0.5, high: 0.5, baseSeed: 11)
            let input = SeededWeights.uniform(key: "gw.x", count: c.inChannels * c.batch * c.height * c.width, low: -1, high: 1, baseSeed: 11)
            func convolution(winograd: Bool) throws -> Conv2d {
                try Conv2d(weight: Tensor(shape: [c.outChannels, c.inChannels / c.groups, 3, 3], storage: weight),
                           bias: Tensor(shape: [c.outChannels], storage: bias), padding: 1, groups: c.groups, preferWinograd: winograd)
            }
            let (winograd, direct) = (try convolution(winograd: true), try convolution(winograd: false))
            BLAS.threadCount = 1
            let expected = reference(c, weight: weight, bias: bias, input: input)
            let alone = run(winograd, c, input), plain = run(direct, c, input)
            BLAS.threadCount = 2
            let shared = run(winograd, c, input)
            XCTAssertEqual(shared.map(\.bitPattern), alone.map(\.bitPattern), "\(c): 2 threads differ from 1")
            var worst = 0.0
            for i in expected.indices {
                worst = max(worst, abs(Double(alone[i]) - expected[i]))
                XCTAssertEqual(alone[i], plain[i], accuracy: 1e-4, "\(c) vs the direct form at \(i)")
            }
            XCTAssertLessThanOrEqual(worst, 1e-4, "\(c) vs the sum in double")
        }
    }

    /// A batch norm folded after loading scales the kept kernels per output channel, as it does the direct form's.
    func testFoldedBatchNormWithSiLU() throws {
        let c = Case(inChannels: 128, outChannels: 128, groups: 2, height: 9, width: 10, batch: 2)
        let weight = SeededWeights.uniform(key: "gwbn.w", count: 128 * 64 * 9, low: -0.1, high: 0.1, baseSeed: 12)
        let input = SeededWeights.uniform(key: "gwbn.x", count: 128 * 2 * 90, low: -1, high: 1, baseSeed: 12)
        let norm = try BatchNorm(weight: SeededWeights.uniform(key: "gwbn.g", count: 128, low: 0.5, high: 1.5, baseSeed: 12),
                                 bias: SeededWeights.uniform(key: "gwbn.b", count: 128, low: -0.5, high: 0.5, baseSeed: 12),
                                 runningMean: SeededWeights.uniform(key: "gwbn.m", count: 128, low: -0.2, high: 0.2, baseSeed: 12),
                                 runningVar: SeededWeights.uniform(key: "gwbn.v", count: 128, low: 0.5, high: 2, baseSeed: 12))
        var outputs: [[Float]] = []
        for winograd in [true, false] {
            var conv = try Conv2d(weight: Tensor(shape: [128, 64, 3, 3], storage: weight), padding: 1, groups: 2, activation: .silu,
                                  preferWinograd: winograd)
            try conv.fold(norm)
            outputs.append(run(conv, c, input))
        }
        for i in outputs[0].indices { XCTAssertEqual(outputs[0][i], outputs[1][i], accuracy: 1e-4, "at \(i)") }
    }

    private func run(_ conv: Conv2d, _ c: Case, _ input: [Float]) -> [Float] {
        var input = input
        var output = [Float](repeating: .nan, count: c.outChannels * c.batch * c.height * c.width)
        input.withUnsafeMutableBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                _ = conv.apply(FeatureMap(data: x.baseAddress!, channels: c.inChannels, batch: c.batch, height: c.height, width: c.width),
                               into: y.baseAddress!, workspace: Workspace())
            }
        }
        return output
    }

    /// The convolution in double, channel-major [out][batch][H][W] like the engine's batches.
    private func reference(_ c: Case, weight: [Float], bias: [Float], input: [Float]) -> [Double] {
        let (inPerGroup, outPerGroup, plane) = (c.inChannels / c.groups, c.outChannels / c.groups, c.height * c.width)
        var output = [Double](repeating: 0, count: c.outChannels * c.batch * plane)
        for o in 0..<c.outChannels {
            let g = o / outPerGroup
            for b in 0..<c.batch {
                for y in 0..<c.height {
                    for x in 0..<c.width {
                        var sum = Double(bias[o])
                        for ci in 0..<inPerGroup {
                            let channelPlane = ((g * inPerGroup + ci) * c.batch + b) * plane
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let (iy, ix) = (y + ky - 1, x + kx - 1)
                                    guard iy >= 0, iy < c.height, ix >= 0, ix < c.width else { continue }
                                    sum += Double(weight[((o * inPerGroup + ci) * 3 + ky) * 3 + kx]) * Double(input[channelPlane + iy * c.width + ix])
                                }
                            }
                        }
                        output[(o * c.batch + b) * plane + y * c.width + x] = sum
                    }
                }
            }
        }
        return output
    }
}
