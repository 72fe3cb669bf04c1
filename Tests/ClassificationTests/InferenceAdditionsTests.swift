import Foundation
import Inference
import XCTest

/// The ops this task added to Inference, against the engine's own references.
final class InferenceAdditionsTests: XCTestCase {
    /// A channel-major batch equals the direct convolution (PyTorch's definition, in double): grouped, strided,
    /// padded, odd sizes, with bias and activation. The last three cases take the direct 3×3 kernel
    /// (GroupedConvolution.h: ECA-NFNet's groups of 64, and its stem's ungrouped stride-2 convolution), on as many
    /// threads as OpenBLAS has (strips of 7, 1 and 1 on a row of 9).
    func testChannelMajorConvolutionEqualsPerImageConvolution() throws {
        let cases: [(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, groups: Int, activation: Activation)] = [
            (8, 6, 3, 2, 1, 2, .silu), (4, 4, 3, 1, 1, 1, .identity), (6, 9, 1, 1, 0, 3, .silu), (3, 4, 3, 2, 0, 1, .relu),
            (128, 128, 3, 1, 1, 2, .silu), (192, 192, 3, 2, 1, 3, .identity), (64, 96, 3, 2, 1, 1, .relu),
        ]
        let batch = 3, height = 7, width = 9
        for (index, c) in cases.enumerated() {
            // Wide fan-ins take PyTorch's initial scale (±√(3 / fan-in)), so their sums of 576 products stay O(1)
            // as in a model and the relative tolerance below still means float rounding.
            let fanIn = c.inChannels / c.groups * c.kernel * c.kernel
            let bound: Float = fanIn > 100 ? Float(3 / Double(fanIn)).squareRoot() : 1
            let weight = try Tensor(shape: [c.outChannels, c.inChannels / c.groups, c.kernel, c.kernel],
                                    storage: SeededWeights.uniform(key: "w\(index)", count: c.outChannels * fanIn,
                                                                   low: -bound, high: bound, baseSeed: 3))
            let bias = try Tensor(shape: [c.outChannels], storage: SeededWeights.uniform(key: "b\(index)", count: c.outChannels, low: -1, high: 1, baseSeed: 3))
            let conv = try Conv2d(weight: weight, bias: bias, stride: Pair2D(c.stride, c.stride), padding: Pair2D(c.padding, c.padding),
                                  groups: c.groups, activation: c.activation)
            let (oh, ow) = conv.outputSize(height: height, width: width)
            let images = SeededWeights.uniform(key: "x\(index)", count: batch * c.inChannels * height * width, low: -3, high: 3, baseSeed: 3)

            let reference = directConvolution(images, batch: batch, height: height, width: width, weight: weight.storage, bias: bias.storage,
                                              c: (c.inChannels, c.outChannels, c.kernel, c.stride, c.padding, c.groups), activation: c.activation)
            // Channel-major: [C][B][H][W] in, [C][B][oh][ow] out.
            var channelMajor = [Float](repeating: 0, count: images.count)
            for b in 0..<batch {
                for ch in 0..<c.inChannels {
                    for i in 0..<(height * width) {
                        channelMajor[(ch * batch + b) * height * width + i] = images[(b * c.inChannels + ch) * height * width + i]
                    }
                }
            }
            var output = [Float](repeating: .nan, count: c.outChannels * batch * oh * ow)
            channelMajor.withUnsafeMutableBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    let images = FeatureMap(data: input.baseAddress!, channels: c.inChannels, batch: batch, height: height, width: width)
                    conv.apply(images, into: out.baseAddress!, workspace: Workspace())
                }
            }
            for b in 0..<batch {
                for o in 0..<c.outChannels {
                    for i in 0..<(oh * ow) {
                        let expected = reference[(b * c.outChannels + o) * oh * ow + i]
                        XCTAssertEqual(output[(o * batch + b) * oh * ow + i], expected, accuracy: 1e-5 * max(1, abs(expected)), "case \(index)")
                    }
                }
            }
        }
    }

    /// Average pooling over whole 2×2 windows (a shortcut path of its own) gives the general loop's bits: the same
    /// windows of an input one column wider, which the general loop pools, signed zeros included.
    func testWholeTwoByTwoAveragePoolingEqualsTheGeneralLoop() throws {
        let pool = AvgPool2d(kernel: 2, stride: 2, ceilMode: true, countIncludePad: false)
        let (channels, height, width) = (3, 6, 8)
        var values = SeededWeights.uniform(key: "pool", count: channels * height * width, low: -3, high: 3, baseSeed: 9)
        for i in [0, 1, 8, 9] { values[i] = -0.0 }  // a window of negative zeros
        var wider = [Float](repeating: 7, count: channels * height * (width + 1))
        for p in 0..<(channels * height) {
            for x in 0..<width { wider[p * (width + 1) + x] = values[p * width + x] }
        }
        var whole = [Float](repeating: .nan, count: channels * 3 * 4), general = [Float](repeating: .nan, count: channels * 3 * 5)
        values.withUnsafeMutableBufferPointer { x in
            _ = pool.apply(FeatureMap(data: x.baseAddress!, channels: channels, height: height, width: width), into: &whole)
        }
        wider.withUnsafeMutableBufferPointer { x in
            _ = pool.apply(FeatureMap(data: x.baseAddress!, channels: channels, height: height, width: width + 1), into: &general)
        }
        for p in 0..<(channels * 3) {
            XCTAssertEqual(whole[(p * 4)..<(p * 4 + 4)].map(\.bitPattern), general[(p * 5)..<(p * 5 + 4)].map(\.bitPattern))
        }
        XCTAssertEqual(whole[0].bitPattern, Float(0).bitPattern, "the general loop sums from +0")
    }

    /// A batch norm folded into a grouped 3×3 convolution after it was built (into its packed weights) gives what
    /// folding it at construction gives.
    func testBatchNormFoldedIntoTheGroupedKernelsWeights() throws {
        let (channels, groups, height, width) = (128, 2, 6, 11)
        let weight = try Tensor(shape: [channels, channels / groups, 3, 3],
                                storage: SeededWeights.uniform(key: "gw", count: channels * channels / groups * 9, low: -0.1, high: 0.1, baseSeed: 5))
        let values = { (key: String, low: Float, high: Float) in SeededWeights.uniform(key: key, count: channels, low: low, high: high, baseSeed: 5) }
        let norm = try BatchNorm(weight: values("gamma", 0.5, 1.5), bias: values("beta", -1, 1),
                                 runningMean: values("mean", -0.5, 0.5), runningVar: values("var", 0.5, 2))
        let atConstruction = try Conv2d(weight: weight, padding: 1, groups: groups, activation: .relu, folding: norm)
        var afterward = try Conv2d(weight: weight, padding: 1, groups: groups, activation: .relu)
        try afterward.fold(norm)
        var input = SeededWeights.uniform(key: "gx", count: channels * height * width, low: -2, high: 2, baseSeed: 5)
        let outputs = [atConstruction, afterward].map { conv in
            var output = [Float](repeating: .nan, count: channels * height * width)
            input.withUnsafeMutableBufferPointer { x in
                output.withUnsafeMutableBufferPointer { y in
                    _ = conv.apply(FeatureMap(data: x.baseAddress!, channels: channels, height: height, width: width),
                                   into: y.baseAddress!, workspace: Workspace())
                }
            }
            return output
        }
        for (a, b) in zip(outputs[0], outputs[1]) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
        XCTAssertGreaterThan(outputs[0].filter { $0 > 0 }.count, outputs[0].count / 4, "a ReLU output that is not all zeros")
    }

    /// out[b][o][y][x] = act(bias[o] + Σ w[o][c][ky][kx] · in[b][g·cpg + c][y·s − p + ky][x·s − p + kx]), NCHW.
    private func directConvolution(
        _ input: [Float], batch: Int, height: Int, width: Int, weight: [Float], bias: [Float],
        c: (inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, groups: Int), activation: Activation
    ) -> [Float] {
        let oh = (height + 2 * c.padding - c.kernel) / c.stride + 1, ow = (width + 2 * c.padding - c.kernel) / c.stride + 1
        let inPerGroup = c.inChannels / c.groups, outPerGroup = c.outChannels / c.groups
        var out = [Float](repeating: 0, count: batch * c.outChannels * oh * ow)
        for b in 0..<batch {
            for o in 0..<c.outChannels {
                let g = o / outPerGroup
                for y in 0..<oh {
                    for x in 0..<ow {
                        var sum = Double(bias[o])
                        for ci in 0..<inPerGroup {
                            for ky in 0..<c.kernel {
                                for kx in 0..<c.kernel {
                                    let iy = y * c.stride - c.padding + ky, ix = x * c.stride - c.padding + kx
                                    guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                    let w = weight[((o * inPerGroup + ci) * c.kernel + ky) * c.kernel + kx]
                                    sum += Double(w) * Double(input[((b * c.inChannels + g * inPerGroup + ci) * height + iy) * width + ix])
                                }
                            }
                        }
                        out[((b * c.outChannels + o) * oh + y) * ow + x] = Float(sum)
                    }
                }
            }
        }
        out.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: $0.count) }
        return out
    }

    func testVectorisedExpAndSiLUMatchLibm() {
        var values: [Float] = [-200, -88, -87, -20, -1, -1e-3, 0, 1e-3, 0.5, 1, 3.7, 20, 80, 88, 200]
        values += (0..<1001).map { Float($0 - 500) / 25 }
        for v in values where v > -80 && v < 80 {
            XCTAssertEqual(VectorMath.exp(v), expf(v), accuracy: 3e-7 * expf(v), "exp(\(v))")
        }
        var out = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { VectorMath.silu(from: input.baseAddress!, to: $0.baseAddress!, count: values.count, shift: 0.25, factor: 0.5) }
        }
        for (v, y) in zip(values, out) {
            let x = v + 0.25
            let expected = x / (1 + expf(-x)) * 0.5
            XCTAssertEqual(y, expected, accuracy: 1e-6 * max(1, abs(expected)), "silu(\(x))")
        }
        XCTAssertFalse(out.contains { !$0.isFinite })  // exp's input is clamped: no overflow, no NaN
        XCTAssertEqual(out[0], 0, accuracy: 1e-30)  // far negative: 0
        XCTAssertEqual(out[14], 100.125)  // far positive: the identity, scaled
    }
}
