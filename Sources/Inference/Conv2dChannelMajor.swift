/// Convolution over a batch stored channel-major, [C][B][H][W]: every image's plane of a channel is adjacent, so
/// one GEMM per group covers the whole batch (N = B·oh·ow instead of oh·ow). At 14×14 and 7×7 a single image
/// gives OpenBLAS too few columns to run near its peak; a batch of them does. With a batch of one it is an
/// ordinary NCHW convolution.
extension Conv2d {
    /// input [inChannels][batch][height][width] → output [outChannels][batch][oh][ow], bias and activation fused.
    public func applyChannelMajor(
        input: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
        output: UnsafeMutablePointer<Float>, scratch: Scratch
    ) {
        let (oh, ow) = outputSize(height: height, width: width)
        let columnsPerImage = oh * ow, n = batch * columnsPerImage
        let inPerGroup = inChannels / groups, outPerGroup = outChannels / groups
        let k = inPerGroup * kernel.y * kernel.x
        let pointwise = kernel == 1 && stride == 1 && padding == 0
        let buffer = pointwise ? nil : scratch.floats(k * n)
        weight.withUnsafeBufferPointer { w in
            for g in 0..<groups {
                let groupInput = input + g * inPerGroup * batch * height * width
                var columns = groupInput
                if let buffer {
                    var row = buffer
                    for c in 0..<inPerGroup {
                        for ky in 0..<kernel.y {
                            for kx in 0..<kernel.x {
                                for b in 0..<batch {
                                    let plane = groupInput + (c * batch + b) * height * width
                                    gatherPatchRow(plane, height: height, width: width, ky: ky, kx: kx, oh: oh, ow: ow,
                                                   into: row + b * columnsPerImage)
                                }
                                row += n
                            }
                        }
                    }
                    columns = UnsafePointer(buffer)
                }
                BLAS.sgemm(m: outPerGroup, n: n, k: k, a: w.baseAddress! + g * outPerGroup * k, lda: k,
                           b: columns, ldb: n, c: output + g * outPerGroup * n, ldc: n)
            }
        }
        finish(output, planeSize: n)
    }

}
