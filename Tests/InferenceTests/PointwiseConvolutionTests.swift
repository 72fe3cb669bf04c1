import Inference
import XCTest

/// Conv2d's 1×1 path on the packed GEMM (`PointwiseConvolution`) against the sum of products in double precision,
/// on shapes that cut every kind of edge: output channels not a multiple of the micro-tile's rows nor of the row
/// block (200 = 192 + 8), positions not a multiple of the micro-tile's width (the last strip narrower, down to the
/// half-width one, and read from the tail's copy), two tiles of positions, two depth blocks (k = 300), a
/// channel-major batch. Tolerance: 1e-6 of Σ|w·x| per output (float32 rounding of a sum of at most 300 products,
/// with or without fused multiply-add), plus the activation's own rounding.
final class PointwiseConvolutionTests: XCTestCase {
    struct Shape {
        let outChannels, inChannels, batch, height, width: Int
        var positions: Int { batch * height * width }
    }

    let shapes = [
        Shape(outChannels: 20, inChannels: 37, batch: 3, height: 7, width: 9),
        Shape(outChannels: 200, inChannels: 300, batch: 1, height: 7, width: 7),
        Shape(outChannels: 72, inChannels: 64, batch: 2, height: 20, width: 21),
        Shape(outChannels: 9, inChannels: 5, batch: 1, height: 1, width: 3),
    ]

    func weights(_ shape: Shape, seed: UInt64) -> (weight: [Float], bias: [Float], input: [Float]) {
        (SeededWeights.uniform(key: "pointwise.w", count: shape.outChannels * shape.inChannels, low: -0.2, high: 0.2, baseSeed: seed),
         SeededWeights.uniform(key: "pointwise.b", count: shape.outChannels, low: -1, high: 1, baseSeed: seed),
         SeededWeights.uniform(key: "pointwise.x", count: shape.inChannels * shape.positions, low: -2, high: 2, baseSeed: seed))
    }

    /// The convolution of `input` ([in][batch·H·W]) on `threads` threads (those a lone batch gets).
    func convolve(_ conv: Conv2d, _ shape: Shape, _ input: [Float], threads: Int) -> [Float] {
        let previous = BLAS.threadCount
        BLAS.threadCount = threads
        defer { BLAS.threadCount = previous }
        var input = input
        var output = [Float](repeating: .nan, count: shape.outChannels * shape.positions)
        input.withUnsafeMutableBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                _ = conv.apply(FeatureMap(data: x.baseAddress!, channels: shape.inChannels, batch: shape.batch, height: shape.height,
                                          width: shape.width),
                               into: y.baseAddress!, workspace: Workspace())
            }
        }
        return output
    }

    func assertEqualsTheDirectSum(
        _ output: [Float], _ shape: Shape, weight: [Float], bias: [Float], input: [Float], activation: (Double) -> Double,
        _ message: String
    ) {
        var worst = 0.0
        for o in 0..<shape.outChannels {
            for j in 0..<shape.positions {
                var sum = Double(bias[o]), magnitude = 0.0
                for c in 0..<shape.inChannels {
                    let product = Double(weight[o * shape.inChannels + c]) * Double(input[c * shape.positions + j])
                    sum += product
                    magnitude += abs(product)
                }
                let error = abs(Double(output[o * shape.positions + j]) - activation(sum))
                worst = max(worst, error - 1e-6 * max(magnitude, 1))
            }
        }
        XCTAssertLessThanOrEqual(worst, 1e-6, message)
    }

    func testPointwiseConvolutionEqualsTheDirectSum() throws {
        let activations: [(Activation, (Double) -> Double)] = [
            (.identity, { $0 }), (.relu, { max($0, 0) }), (.silu, { $0 / (1 + exp(-$0)) }),
        ]
        for (index, shape) in shapes.enumerated() {
            let (weight, bias, input) = weights(shape, seed: UInt64(index + 1))
            for (activation, reference) in activations {
                let conv = try Conv2d(weight: Tensor(shape: [shape.outChannels, shape.inChannels, 1, 1], storage: weight),
                                      bias: Tensor(shape: [shape.outChannels], storage: bias), activation: activation)
                for threads in [1, 2] {
                    assertEqualsTheDirectSum(convolve(conv, shape, input, threads: threads), shape, weight: weight, bias: bias,
                                             input: input, activation: reference, "\(shape) \(activation) on \(threads) threads")
                }
            }
        }
    }

    /// A batch norm folded after load (`fold`) scales the packed weights' rows and the bias.
    func testBatchNormFoldedIntoThePackedWeights() throws {
        let shape = shapes[1]
        let (weight, bias, input) = weights(shape, seed: 9)
        let gamma = SeededWeights.uniform(key: "pointwise.gamma", count: shape.outChannels, low: 0.5, high: 1.5, baseSeed: 9)
        let beta = SeededWeights.uniform(key: "pointwise.beta", count: shape.outChannels, low: -0.5, high: 0.5, baseSeed: 9)
        let mean = SeededWeights.uniform(key: "pointwise.mean", count: shape.outChannels, low: -0.5, high: 0.5, baseSeed: 9)
        let variance = SeededWeights.uniform(key: "pointwise.var", count: shape.outChannels, low: 0.5, high: 2, baseSeed: 9)
        let norm = try BatchNorm(weight: gamma, bias: beta, runningMean: mean, runningVar: variance)
        var conv = try Conv2d(weight: Tensor(shape: [shape.outChannels, shape.inChannels, 1, 1], storage: weight),
                              bias: Tensor(shape: [shape.outChannels], storage: bias))
        try conv.fold(norm)
        let foldedWeight = weight.enumerated().map { $1 * norm.scale[$0 / shape.inChannels] }
        let foldedBias = (0..<shape.outChannels).map { bias[$0] * norm.scale[$0] + norm.shift[$0] }
        assertEqualsTheDirectSum(convolve(conv, shape, input, threads: 1), shape, weight: foldedWeight, bias: foldedBias,
                                 input: input, activation: { $0 }, "folded")
    }

    /// Each tile is computed the same way whichever thread runs it: one and two threads give the same bits.
    func testOneAndTwoThreadsGiveTheSameBits() throws {
        for (index, shape) in shapes.enumerated() {
            let (weight, bias, input) = weights(shape, seed: UInt64(index + 20))
            let conv = try Conv2d(weight: Tensor(shape: [shape.outChannels, shape.inChannels, 1, 1], storage: weight),
                                  bias: Tensor(shape: [shape.outChannels], storage: bias), activation: .silu)
            XCTAssertEqual(convolve(conv, shape, input, threads: 1).map(\.bitPattern),
                           convolve(conv, shape, input, threads: 2).map(\.bitPattern), "\(shape)")
        }
    }
}
