import Inference
import XCTest

/// Conv3d and MaxPool3d against direct loops of their definitions (PyTorch's Conv3d / MaxPool3d semantics).
final class Conv3dTests: XCTestCase {
    private func values(_ key: String, _ count: Int) -> [Float] {
        SeededWeights.uniform(key: key, count: count, low: -1, high: 1, baseSeed: 3)
    }

    /// out[o][z][y][x] = bias[o] + Σ w[o][c][kz][ky][kx] · in[c][z·s − p + kz][…] over taps inside the input.
    private func direct(_ input: [Float], channels: Int, size: (Int, Int, Int), weight: [Float], bias: [Float], kernel: Int,
                        stride: Triple3D, padding: Triple3D) -> (values: [Float], size: (Int, Int, Int)) {
        let (d, h, w) = size
        let out = bias.count
        let o3 = ((d + 2 * padding.z - kernel) / stride.z + 1, (h + 2 * padding.y - kernel) / stride.y + 1,
                  (w + 2 * padding.x - kernel) / stride.x + 1)
        var result = [Float](repeating: 0, count: out * o3.0 * o3.1 * o3.2)
        for o in 0..<out {
            for z in 0..<o3.0 { for y in 0..<o3.1 { for x in 0..<o3.2 {
                var sum = Double(bias[o])
                for c in 0..<channels { for kz in 0..<kernel { for ky in 0..<kernel { for kx in 0..<kernel {
                    let (iz, iy, ix) = (z * stride.z - padding.z + kz, y * stride.y - padding.y + ky, x * stride.x - padding.x + kx)
                    guard (0..<d).contains(iz), (0..<h).contains(iy), (0..<w).contains(ix) else { continue }
                    sum += Double(weight[(((o * channels + c) * kernel + kz) * kernel + ky) * kernel + kx])
                        * Double(input[((c * d + iz) * h + iy) * w + ix])
                }}}}
                result[((o * o3.0 + z) * o3.1 + y) * o3.2 + x] = Float(sum)
            }}}
        }
        return (result, o3)
    }

    /// Every way Conv3d computes: stride 1 over shifted rows of the padded input (5 output channels), stride 1 over
    /// columns (48 output channels: the padded grid of a 7-wide plane would cost more than columns), strided.
    func testConvolutionMatchesItsDefinition() throws {
        let (channels, size) = (3, (9, 8, 7))
        let input = values("input", channels * size.0 * size.1 * size.2)
        for (out, kernel, stride, padding) in [(5, 3, Triple3D(1), Triple3D(1)), (48, 3, Triple3D(1), Triple3D(1)),
                                               (5, 3, Triple3D(2), Triple3D(1)), (5, 1, Triple3D(2), Triple3D(0)),
                                               (5, 7, Triple3D(1, 2, 2), Triple3D(3))] {
            for threads in [1, 3] {
                let weight = values("weight\(kernel)", out * channels * kernel * kernel * kernel)
                let bias = values("bias", out)
                let conv = try Conv3d(weight: Tensor(shape: [out, channels, kernel, kernel, kernel], storage: weight),
                                      bias: Tensor(shape: [out], storage: bias), stride: stride, padding: padding)
                let expected = direct(input, channels: channels, size: size, weight: weight, bias: bias, kernel: kernel, stride: stride, padding: padding)
                let o3 = conv.outputSize(depth: size.0, height: size.1, width: size.2)
                XCTAssertTrue(o3 == expected.size)
                var inputCopy = input
                var output = [Float](repeating: 0, count: expected.values.count)
                inputCopy.withUnsafeMutableBufferPointer { i in
                    output.withUnsafeMutableBufferPointer { o in
                        let x = FeatureVolume(data: i.baseAddress!, channels: channels, depth: size.0, height: size.1, width: size.2)
                        let y = FeatureVolume(data: o.baseAddress!, channels: out, depth: o3.depth, height: o3.height, width: o3.width)
                        conv.apply(x, into: y, threads: threads, workspace: Workspace())
                    }
                }
                // Float32 sums of up to 1029 products: within 1e-6 of the largest output.
                let difference = zip(output, expected.values).map { abs($0 - $1) }.max() ?? 0
                let scale = expected.values.map(abs).max() ?? 1
                XCTAssertLessThan(difference, 1e-6 * scale, "out \(out) kernel \(kernel) stride \(stride) padding \(padding) threads \(threads)")
            }
        }
    }

    /// Planes wider than a tile: a stride-1 convolution computes over an output grid of the padded width, and at
    /// 33 × 33 (padded 35) its second and third tiles of 384 start in the grid's columns past the last output
    /// column; accumulated, with ReLU, on one and two threads.
    func testTilesStartingPastTheLastOutputColumn() throws {
        let (channels, out, size) = (2, 3, (3, 33, 33))
        let input = values("wide.input", channels * size.0 * size.1 * size.2)
        let weight = values("wide.weight", out * channels * 27), bias = values("wide.bias", out)
        let conv = try Conv3d(weight: Tensor(shape: [out, channels, 3, 3, 3], storage: weight), bias: Tensor(shape: [out], storage: bias),
                              padding: 1, activation: .relu)
        let sums = direct(input, channels: channels, size: size, weight: weight, bias: bias, kernel: 3, stride: 1, padding: 1).values
        let addend = values("wide.addend", sums.count)
        let expected = zip(sums, addend).map { max($0 + $1, 0) }
        for threads in [1, 2] {
            var inputCopy = input, output = addend
            inputCopy.withUnsafeMutableBufferPointer { i in
                output.withUnsafeMutableBufferPointer { o in
                    conv.apply(FeatureVolume(data: i.baseAddress!, channels: channels, depth: size.0, height: size.1, width: size.2),
                               into: FeatureVolume(data: o.baseAddress!, channels: out, depth: size.0, height: size.1, width: size.2),
                               accumulate: true, threads: threads, workspace: Workspace())
                }
            }
            let difference = zip(output, expected).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(difference, 1e-5, "\(threads) threads")
        }
    }

    /// Winograd F(2×2×2, 3×3×3) against the direct form on odd sizes (partial tiles in every axis, rows of tiles
    /// that blocks of 48 split), channel counts that are not multiples of 8 (130 outputs: two bands of M), with bias,
    /// a residual addend and ReLU, on a slab of output planes; the same bits on 1 and 2 threads. F(2, 3) rounds a
    /// little more than the direct sum: within 2e-6 of the largest |output|.
    func testWinogradMatchesTheDirectForm() throws {
        for (channels, out, size) in [(3, 5, (5, 7, 9)), (13, 10, (4, 6, 11)), (20, 72, (7, 9, 34)), (64, 64, (3, 17, 15)),
                                      (8, 130, (3, 5, 7))] {
            let input = values("winograd.input", channels * size.0 * size.1 * size.2)
            let weight = try Tensor(shape: [out, channels, 3, 3, 3], storage: values("winograd.weight", out * channels * 27).map { $0 * 0.2 })
            let bias = try Tensor(shape: [out], storage: values("winograd.bias", out))
            let planeSize = size.1 * size.2
            for planes in [0..<size.0, 1..<size.0] {
                let addend = values("winograd.addend", out * planes.count * planeSize)
                func convolve(_ method: Conv3d.Method, threads: Int) throws -> [Float] {
                    let conv = try Conv3d(weight: weight, bias: bias, padding: 1, activation: .relu, method: method)
                    XCTAssertEqual(conv.method, method)
                    var (inputCopy, output) = (input, addend)
                    inputCopy.withUnsafeMutableBufferPointer { i in
                        output.withUnsafeMutableBufferPointer { o in
                            conv.apply(FeatureVolume(data: i.baseAddress!, channels: channels, depth: size.0, height: size.1, width: size.2),
                                       into: FeatureVolume(data: o.baseAddress!, channels: out, depth: planes.count, height: size.1, width: size.2),
                                       planes: planes, outputOrigin: planes.lowerBound, accumulate: true, threads: threads, workspace: Workspace())
                        }
                    }
                    return output
                }
                let direct = try convolve(.direct, threads: 1)
                let winograd = try convolve(.winograd, threads: 1)
                let difference = zip(winograd, direct).map { abs($0 - $1) }.max() ?? 0
                let scale = direct.map(abs).max() ?? 1
                XCTAssertLessThan(difference, 2e-6 * scale, "in \(channels) out \(out) size \(size) planes \(planes)")
                let twoThreads = try convolve(.winograd, threads: 2)
                XCTAssertEqual(zip(twoThreads, winograd).filter { $0.bitPattern != $1.bitPattern }.count, 0, "values that differ on 2 threads")
            }
        }
    }

    /// Winograd is refused where it does not apply (stride 2, a 1×1×1 kernel) and chosen by itself only for the
    /// channel counts where it measured faster.
    func testWinogradOnlyWhereItAppliesAndPays() throws {
        let weight3 = try Tensor(shape: [64, 64, 3, 3, 3], storage: [Float](repeating: 0.01, count: 64 * 64 * 27))
        XCTAssertThrowsError(try Conv3d(weight: weight3, stride: 2, padding: 1, method: .winograd))
        XCTAssertThrowsError(try Conv3d(weight: Tensor(shape: [2, 1, 1, 1, 1], storage: [1, 2]), method: .winograd))
        XCTAssertEqual(try Conv3d(weight: weight3, padding: 1).method, .winograd)
        XCTAssertEqual(try Conv3d(weight: weight3, stride: 2, padding: 1).method, .direct)
        XCTAssertEqual(Conv3d.preferredMethod(inChannels: 512, outChannels: 512, kernel: 3, stride: 1, padding: 1), .direct)
        XCTAssertEqual(Conv3d.preferredMethod(inChannels: 3, outChannels: 5, kernel: 3, stride: 1, padding: 1), .direct)
    }

    /// The GEMM's store applies identity or ReLU; any other activation is refused at load, not silently dropped.
    func testOnlyActivationsTheStoreAppliesAreAccepted() throws {
        let weight = try Tensor(shape: [2, 1, 1, 1, 1], storage: [1, 2])
        XCTAssertThrowsError(try Conv3d(weight: weight, activation: .sigmoid))
        XCTAssertNoThrow(try Conv3d(weight: weight, activation: .relu))
    }

    /// A slab of output planes into a buffer holding only them, accumulated onto what it holds, then ReLU.
    func testSlabOfPlanesAccumulatesOntoTheOutput() throws {
        let (channels, out, size) = (2, 4, (6, 5, 5))
        let input = values("slab.input", channels * size.0 * size.1 * size.2)
        let weight = values("slab.weight", out * channels * 27), bias = values("slab.bias", out)
        let conv = try Conv3d(weight: Tensor(shape: [out, channels, 3, 3, 3], storage: weight), bias: Tensor(shape: [out], storage: bias),
                              padding: 1, activation: .relu)
        let full = direct(input, channels: channels, size: size, weight: weight, bias: bias, kernel: 3, stride: 1, padding: 1).values
        let planes = 2..<5, plane = 25
        let addend = values("slab.addend", out * planes.count * plane)
        var slab = addend
        var inputCopy = input
        inputCopy.withUnsafeMutableBufferPointer { i in
            slab.withUnsafeMutableBufferPointer { s in
                conv.apply(FeatureVolume(data: i.baseAddress!, channels: channels, depth: 6, height: 5, width: 5),
                           into: FeatureVolume(data: s.baseAddress!, channels: out, depth: planes.count, height: 5, width: 5),
                           planes: planes, outputOrigin: planes.lowerBound, accumulate: true, workspace: Workspace())
            }
        }
        for o in 0..<out { for (index, z) in planes.enumerated() { for p in 0..<plane {
            let expected = max(0, full[(o * 6 + z) * plane + p] + addend[(o * planes.count + index) * plane + p])
            XCTAssertEqual(slab[(o * planes.count + index) * plane + p], expected, accuracy: 1e-5)
        }}}
    }

    func testMaxPoolMatchesItsDefinition() {
        for threads in [1, 2] { checkMaxPool(threads: threads) }
    }

    private func checkMaxPool(threads: Int) {
        let (channels, d, h, w) = (3, 7, 6, 5)
        let input = values("pool.input", channels * d * h * w)
        let pool = MaxPool3d(kernel: 3, stride: 2, padding: 1)
        let o3 = pool.outputSize(depth: d, height: h, width: w)
        XCTAssertTrue(o3 == (4, 3, 3))
        var output = [Float](repeating: 0, count: channels * o3.depth * o3.height * o3.width)
        var scratch = [Float](repeating: 0, count: threads * MaxPool3d.scratchFloats(height: h, width: w))
        // Output planes 1..<3 from a slab of input planes 1..<6 (the planes their windows meet).
        let slab = 1..<6
        var slabValues = [Float]()
        for c in 0..<channels {
            let first: Int = (c * d + slab.lowerBound) * h * w
            let last: Int = (c * d + slab.upperBound) * h * w
            slabValues.append(contentsOf: input[first..<last])
        }
        slabValues.withUnsafeMutableBufferPointer { sv in
            output.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { s in
                    pool.apply(FeatureVolume(data: sv.baseAddress!, channels: channels, depth: slab.count, height: h, width: w),
                               inputOrigin: slab.lowerBound, depth: d, planes: 1..<3,
                               into: FeatureVolume(data: o.baseAddress!, channels: channels, depth: o3.depth, height: o3.height, width: o3.width),
                               threads: threads, scratch: s.baseAddress!)
                }
            }
        }
        for c in 0..<channels { for z in 1..<3 { for y in 0..<o3.height { for x in 0..<o3.width {
            var best = -Float.infinity
            for iz in (2 * z - 1)...(2 * z + 1) where (0..<d).contains(iz) {
                for iy in (2 * y - 1)...(2 * y + 1) where (0..<h).contains(iy) {
                    for ix in (2 * x - 1)...(2 * x + 1) where (0..<w).contains(ix) { best = max(best, input[((c * d + iz) * h + iy) * w + ix]) }
                }
            }
            XCTAssertEqual(output[((c * o3.depth + z) * o3.height + y) * o3.width + x], best, "\(threads) threads")
        }}}}
    }
}
