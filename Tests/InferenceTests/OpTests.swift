import ArrayFiles
import Inference
import XCTest

/// Each op against PyTorch's output on edge cases (tools/reference/op_fixtures.py).
final class OpTests: XCTestCase {
    var fixtures: SafeTensorsFile!

    override func setUpWithError() throws { fixtures = try loadFixtures("ops.safetensors") }

    func t(_ key: String) throws -> Tensor { try fixtures.tensor(key) }

    func convolve(_ conv: Conv2d, _ x: Tensor) -> Tensor {
        let (_, _, h, w) = x.nchw
        let (oh, ow) = conv.outputSize(height: h, width: w)
        let workspace = Workspace()
        return perImage(x, output: (conv.outChannels, oh, ow)) { conv.apply($0, into: $1, workspace: workspace) }
    }

    func testConvolutionEdgeCases() throws {
        // name, stride, padding, dilation, groups (as in op_fixtures.py)
        let cases: [(String, Pair2D, Pair2D, Pair2D, Int)] = [
            ("conv_3x3_s1_p1", 1, 1, 1, 1), ("conv_3x3_s2_p1_odd", 2, 1, 1, 1), ("conv_7x7_s2_p3", 2, 3, 1, 1),
            ("conv_1x1", 1, 0, 1, 1), ("conv_1x1_s2", 2, 0, 1, 1), ("conv_grouped", 1, 1, 1, 4),
            ("conv_depthwise_s2", 2, 1, 1, 6), ("conv_dilated", 1, 2, 2, 1), ("conv_rect", Pair2D(2, 1), Pair2D(1, 2), 1, 1),
            ("conv_no_pad_big_kernel", 1, 0, 1, 1), ("conv_3x3_winograd_wide", 1, 1, 1, 1), ("conv_3x3_winograd_7x7", 1, 1, 1, 1),
        ]
        for (name, stride, padding, dilation, groups) in cases {
            let bias = fixtures.entries["\(name).b"] == nil ? nil : try t("\(name).b")
            let conv = try Conv2d(weight: t("\(name).w"), bias: bias, stride: stride, padding: padding,
                                  dilation: dilation, groups: groups)
            // Sums of up to 576 products reach |y| ≈ 30: allow float rounding relative to the output's scale
            // (Winograd's transforms round a little more than a direct dot product).
            let expected = try t("\(name).y")
            let scale = expected.storage.map(abs).max() ?? 0
            assertClose(convolve(conv, try t("\(name).x")), expected, tolerance: max(1e-4, 1e-5 * scale), name)
        }
    }

    /// The Winograd form (which the models ask for where they run image by image) on PyTorch's 3×3 cases, and
    /// with a batch norm folded into its transformed weights.
    func testWinogradFormAgainstPyTorch() throws {
        for name in ["conv_3x3_s1_p1", "conv_3x3_winograd_wide", "conv_3x3_winograd_7x7"] {
            let bias = fixtures.entries["\(name).b"] == nil ? nil : try t("\(name).b")
            let conv = try Conv2d(weight: t("\(name).w"), bias: bias, padding: 1, preferWinograd: true)
            let expected = try t("\(name).y")
            let scale = expected.storage.map(abs).max() ?? 0
            assertClose(convolve(conv, try t("\(name).x")), expected, tolerance: max(1e-4, 1e-5 * scale), name)
        }
        var conv = try Conv2d(weight: t("bnfold.w"), padding: 1, activation: .relu, preferWinograd: true)
        try conv.fold(BatchNorm(weight: t("bnfold.gamma").storage, bias: t("bnfold.beta").storage,
                                runningMean: t("bnfold.mean").storage, runningVar: t("bnfold.var").storage))
        assertClose(convolve(conv, try t("bnfold.x")), try t("bnfold.y"), tolerance: 1e-4)
    }

    /// A channel-major batch ([C][B][H][W]) through one `apply` gives each image what it gives alone: the
    /// Winograd form runs image by image with the batch's channel stride, im2col + GEMM covers the batch at once.
    func testConvolutionOfAChannelMajorBatchEqualsImageByImage() throws {
        for (name, stride, padding, groups, winograd) in [
            ("conv_3x3_s1_p1", 1, 1, 1, true), ("conv_3x3_winograd_7x7", 1, 1, 1, true), ("conv_3x3_s1_p1", 1, 1, 1, false),
            ("conv_grouped", 1, 1, 4, false), ("conv_3x3_s2_p1_odd", 2, 1, 1, false), ("conv_1x1", 1, 0, 1, false),
        ] {
            let bias = fixtures.entries["\(name).b"] == nil ? nil : try t("\(name).b")
            let conv = try Conv2d(weight: t("\(name).w"), bias: bias, stride: Pair2D(stride, stride),
                                  padding: Pair2D(padding, padding), groups: groups, activation: .relu, preferWinograd: winograd)
            let first = try t("\(name).x")
            let (_, c, h, w) = first.nchw
            let image = Array(first.storage[0..<(c * h * w)])
            let images = [image, image.reversed().map { $0 * 0.5 - 0.25 }, image.map { -$0 }]
            let (oh, ow) = conv.outputSize(height: h, width: w)
            let plane = h * w, outPlane = oh * ow
            var batch = [Float](repeating: 0, count: images.count * c * plane)
            for (b, pixels) in images.enumerated() {
                for ch in 0..<c {
                    let start = (ch * images.count + b) * plane
                    batch.replaceSubrange(start..<(start + plane), with: pixels[(ch * plane)..<((ch + 1) * plane)])
                }
            }
            var output = [Float](repeating: 0, count: images.count * conv.outChannels * outPlane)
            let workspace = Workspace()
            batch.withUnsafeMutableBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    _ = conv.apply(FeatureMap(data: input.baseAddress!, channels: c, batch: images.count, height: h, width: w),
                                   into: out.baseAddress!, workspace: workspace)
                }
            }
            for (b, pixels) in images.enumerated() {
                let alone = convolve(conv, try Tensor(shape: [1, c, h, w], storage: pixels)).storage
                var inBatch: [Float] = []
                for o in 0..<conv.outChannels {
                    let start = (o * images.count + b) * outPlane
                    inBatch += output[start..<(start + outPlane)]
                }
                XCTAssertLessThanOrEqual(maxAbsDifference(inBatch, alone), 1e-5, "\(name), Winograd \(winograd), image \(b)")
            }
        }
    }

    /// 64 → 64 channels at 224² is past Winograd's band budget (16 tile rows per band): outputs on both sides of
    /// each band boundary, at the edges and inside, equal the direct sum of products.
    func testWinogradInBandsOfTileRowsEqualsTheDirectSum() throws {
        try assertWinogradEqualsTheDirectSum(inChannels: 64, outChannels: 64, height: 224, width: 224,
                                             rows: [0, 1, 63, 64, 65, 127, 128, 191, 192, 222, 223], columns: [0, 3, 4, 100, 223])
    }

    /// 200 → 72 channels: U is made in bands of 96, 96 and 8 input channels whose GEMMs accumulate into the same
    /// products; on a 13×11 plane, whose last tile row and column are partial.
    func testWinogradInBandsOfInputChannelsEqualsTheDirectSum() throws {
        try assertWinogradEqualsTheDirectSum(inChannels: 200, outChannels: 72, height: 13, width: 11,
                                             rows: [0, 3, 4, 11, 12], columns: [0, 1, 7, 8, 10])
    }

    /// The Winograd form of a seeded 3×3 convolution (padding 1) against the direct sum in double precision at
    /// the given output positions, every 9th output channel.
    private func assertWinogradEqualsTheDirectSum(
        inChannels: Int, outChannels: Int, height: Int, width: Int, rows: [Int], columns: [Int]
    ) throws {
        let weight = SeededWeights.uniform(key: "bands.w", count: outChannels * inChannels * 9, low: -0.1, high: 0.1, baseSeed: 7)
        var input = SeededWeights.uniform(key: "bands.x", count: inChannels * height * width, low: -1, high: 1, baseSeed: 7)
        let conv = try Conv2d(weight: Tensor(shape: [outChannels, inChannels, 3, 3], storage: weight), padding: 1, preferWinograd: true)
        var output = [Float](repeating: 0, count: outChannels * height * width)
        input.withUnsafeMutableBufferPointer { x in
            output.withUnsafeMutableBufferPointer { y in
                _ = conv.apply(FeatureMap(data: x.baseAddress!, channels: inChannels, height: height, width: width),
                               into: y.baseAddress!, workspace: Workspace())
            }
        }
        for y in rows {
            for x in columns {
                for o in stride(from: 0, to: outChannels, by: 9) {
                    var sum = 0.0
                    for c in 0..<inChannels {
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                let (iy, ix) = (y + ky - 1, x + kx - 1)
                                guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                sum += Double(weight[((o * inChannels + c) * 3 + ky) * 3 + kx]) * Double(input[(c * height + iy) * width + ix])
                            }
                        }
                    }
                    XCTAssertEqual(Double(output[(o * height + y) * width + x]), sum, accuracy: 1e-4, "channel \(o) at (\(y), \(x))")
                }
            }
        }
    }

    func testBatchNormFoldedIntoConvolutionWithReLU() throws {
        var conv = try Conv2d(weight: t("bnfold.w"), padding: 1, activation: .relu)
        try conv.fold(BatchNorm(weight: t("bnfold.gamma").storage, bias: t("bnfold.beta").storage,
                                runningMean: t("bnfold.mean").storage, runningVar: t("bnfold.var").storage))
        assertClose(convolve(conv, try t("bnfold.x")), try t("bnfold.y"), tolerance: 1e-4)
    }

    func testBatchNormWithReLU() throws {
        let norm = try BatchNorm(weight: t("bnfold.gamma").storage, bias: t("bnfold.beta").storage,
                                 runningMean: t("bnfold.mean").storage, runningVar: t("bnfold.var").storage)
        let x = try t("bn.x")
        let (_, c, h, w) = x.nchw
        assertClose(perImage(x, output: (c, h, w)) { norm.apply($0, into: $1, activation: .relu) }, try t("bn.y"), tolerance: 1e-5)
    }

    func testActivations() throws {
        let x = try t("act.x")
        for (activation, key) in [(Activation.relu, "relu"), (.silu, "silu"), (.gelu, "gelu"), (.sigmoid, "sigmoid")] {
            var y = x
            y.storage.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: $0.count) }
            assertClose(y, try t("act.\(key)"), tolerance: 2e-6, key)
        }
    }

    /// The fused bias + activation form (what convolutions use) equals adding the bias, then the activation;
    /// sigmoid on VectorMath.exp stays within a few ulp of libm's.
    func testActivationWithShiftAndVectorisedSigmoid() {
        var values: [Float] = [-200, -90, -88, -20, -1, -1e-3, 0, 1e-3, 0.5, 1, 3.7, 20, 88, 90, 200]
        values += (0..<801).map { Float($0 - 400) / 20 }
        for v in values {
            let expected = 1 / (1 + expf(-v))
            XCTAssertEqual(VectorMath.sigmoid(v), expected, accuracy: 3e-7 * expected + 1e-37, "sigmoid(\(v))")
        }
        XCTAssertEqual(VectorMath.sigmoid(0), 0.5)
        XCTAssertEqual(VectorMath.sigmoid(200), 1)
        let shift: Float = -0.375
        for activation in [Activation.identity, .relu, .silu, .gelu, .sigmoid] {
            var fused = values, separate = values
            fused.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: $0.count, shift: shift) }
            for i in separate.indices { separate[i] += shift }
            separate.withUnsafeMutableBufferPointer { activation.apply($0.baseAddress!, count: $0.count) }
            XCTAssertEqual(fused, separate, "\(activation)")
        }
    }

    func testPooling() throws {
        let cases: [(String, Bool, Int, Int, Int, Bool, Bool)] = [
            ("maxpool_3_2_1", true, 3, 2, 1, false, true), ("maxpool_3_2_1_odd", true, 3, 2, 1, false, true),
            ("maxpool_3_2_0_ceil", true, 3, 2, 0, true, true), ("maxpool_2_2_ceil", true, 2, 2, 0, true, true),
            ("avgpool_2_2", false, 2, 2, 0, false, true), ("avgpool_2_2_ceil_nopad", false, 2, 2, 0, true, false),
            ("avgpool_3_2_1_incl", false, 3, 2, 1, false, true), ("avgpool_3_2_1_excl", false, 3, 2, 1, false, false),
            ("avgpool_3_2_1_ceil_incl", false, 3, 2, 1, true, true),
        ]
        for (name, isMax, k, s, p, ceil, include) in cases {
            let x = try t("\(name).x")
            let (_, c, h, w) = x.nchw
            let y: Tensor
            if isMax {
                let pool = MaxPool2d(kernel: Pair2D(k, k), stride: Pair2D(s, s), padding: Pair2D(p, p), ceilMode: ceil)
                let (oh, ow) = pool.outputSize(height: h, width: w)
                y = perImage(x, output: (c, oh, ow)) { pool.apply($0, into: $1) }
            } else {
                let pool = AvgPool2d(kernel: Pair2D(k, k), stride: Pair2D(s, s), padding: Pair2D(p, p), ceilMode: ceil,
                                     countIncludePad: include)
                let (oh, ow) = pool.outputSize(height: h, width: w)
                y = perImage(x, output: (c, oh, ow)) { pool.apply($0, into: $1) }
            }
            assertClose(y, try t("\(name).y"), tolerance: 1e-5, name)
        }
    }

    func testGlobalPoolUpsampleConcatLinear() throws {
        let gapX = try t("gap.x"), upX = try t("up.x")
        let (_, gc, _, _) = gapX.nchw
        let (_, uc, uh, uw) = upX.nchw
        assertClose(perImage(gapX, output: (gc, 1, 1)) { Ops.globalAveragePool($0, into: $1) }, try t("gap.y"), tolerance: 1e-6,
                    "global average pool")
        assertClose(perImage(upX, output: (uc, 2 * uh, 2 * uw)) { Ops.upsampleNearest2x($0, into: $1) }, try t("up.y"), tolerance: 0,
                    "upsample")

        // Concatenation, image by image: image i of b follows image i of a.
        let a = try t("cat.a"), b = try t("cat.b")
        let (n, ca, h, w) = a.nchw
        let cb = b.nchw.c
        var (aImages, bImages) = (a.storage, b.storage)
        var joined = Tensor(zeros: [n, ca + cb, h, w])
        aImages.withUnsafeMutableBufferPointer { aBuffer in
            bImages.withUnsafeMutableBufferPointer { bBuffer in
                joined.storage.withUnsafeMutableBufferPointer { out in
                    for i in 0..<n {
                        Ops.concatChannels([FeatureMap(data: aBuffer.baseAddress! + i * ca * h * w, channels: ca, height: h, width: w),
                                            FeatureMap(data: bBuffer.baseAddress! + i * cb * h * w, channels: cb, height: h, width: w)],
                                           into: out.baseAddress! + i * (ca + cb) * h * w)
                    }
                }
            }
        }
        assertClose(joined, try t("cat.y"), tolerance: 0, "concat")

        let linear = try Linear(weight: t("linear.w"), bias: t("linear.b"))
        let x = try t("linear.x")
        var y = Tensor(zeros: Array(x.shape.dropLast()) + [linear.outFeatures])
        x.storage.withUnsafeBufferPointer { input in
            y.storage.withUnsafeMutableBufferPointer {
                linear.apply(input: input.baseAddress!, rows: x.count / linear.inFeatures, output: $0.baseAddress!)
            }
        }
        assertClose(y, try t("linear.y"), tolerance: 1e-5, "linear")
    }

    func testWrongInputShapesAreErrors() throws {
        XCTAssertThrowsError(try Conv2d(weight: Tensor(zeros: [6, 4, 3, 3]), groups: 4))
        XCTAssertThrowsError(try Conv2d(weight: Tensor(zeros: [6, 4, 3]))) { error in
            XCTAssertTrue("\(error)".contains("conv weight"), "\(error)")
        }
        XCTAssertThrowsError(try Linear(weight: Tensor(zeros: [7, 10, 1])))
        XCTAssertThrowsError(try Linear(weight: t("linear.w"), bias: Tensor(zeros: [3])))
    }
}
