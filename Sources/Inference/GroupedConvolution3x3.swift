import CKernels
import Dispatch

/// Grouped 3×3 convolutions (padding 1, stride 1 or 2) whose groups have a multiple of 32 output channels, as
/// ECA-NFNet's are (groups of 64): computed directly by CKernels' block kernel (GroupedConvolution.h), 32 output
/// channels at a time held in registers over strips of output positions, instead of im2col + one small GEMM per
/// group (nine copies of the input, and 49–196 columns per image, where OpenBLAS runs well below its peak).
/// The wide variants fuse multiply and add, so results differ from the GEMM form by rounding only.
struct GroupedConvolution3x3: Sendable {
    static let block = Int(CK_CONV3X3_BLOCK)

    let inChannels: Int
    let outChannels: Int
    let groups: Int
    let stride: Int
    /// The weights in the kernel's blocks (ck_conv3x3_pack): per group, per 32 output channels, [in/groups][3][3][32].
    private var packed: [Float]

    /// Grouped convolutions (small GEMMs per group) and stride-2 ones (whose im2col gathers value by value), with
    /// groups of a multiple of 32 output channels.
    static func fits(kernel: Pair2D, stride: Pair2D, padding: Pair2D, dilation: Pair2D, groups: Int, outChannels: Int) -> Bool {
        kernel == 3 && padding == 1 && dilation == 1 && stride.y == stride.x && (stride.y == 1 || stride.y == 2)
            && (groups > 1 || stride.y == 2) && (outChannels / groups) % block == 0
    }

    /// `weight` is [out, in/groups, 3, 3].
    init(weight: [Float], inChannels: Int, outChannels: Int, groups: Int, stride: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.groups = groups
        self.stride = stride
        packed = [Float](unsafeUninitializedCapacity: weight.count) { buffer, initialized in
            weight.withUnsafeBufferPointer { ck_conv3x3_pack($0.baseAddress, outChannels, inChannels / groups, buffer.baseAddress) }
            initialized = weight.count
        }
    }

    /// Output channel o's weights times scale[o] (a batch norm folded after packing).
    mutating func scaleOutputs(by scale: [Float]) {
        let perBlock = inChannels / groups * 9 * Self.block
        packed.withUnsafeMutableBufferPointer { w in
            for i in w.indices { w[i] *= scale[i / perBlock * Self.block + i % Self.block] }
        }
    }

    /// input [inChannels][batch][H][W] → activation(output + bias), same layout. First each (image, group)'s input
    /// planes are copied into a zero-bordered buffer, then each (image, block of 32 output channels) is computed and
    /// finished (bias, activation) while still in cache. Both steps run on `Parallel.threadsForOneItem` threads,
    /// so a small batch gets its threads through the output channels.
    func apply(_ input: FeatureMap, into output: FeatureMap, bias: [Float]?, activation: Activation, workspace: Workspace) {
        let batch = input.batch
        let (height, width, inputPlane) = (input.height, input.width, input.planeSize)
        let (outputHeight, outputWidth, outputPlane) = (output.height, output.width, output.planeSize)
        let (source, destination) = (SendablePointer(input.data), SendablePointer(output.data))
        let (paddedHeight, paddedWidth) = (input.height + 2, input.width + 2)
        let paddedPlane = paddedHeight * paddedWidth
        let inPerGroup = inChannels / groups, blocksPerGroup = outChannels / groups / Self.block
        // [image][group][inPerGroup][H + 2][W + 2]
        let padded = SendablePointer(workspace.scratch(Workspace.convolutionSlot, count: batch * inChannels * paddedPlane))
        let kernel = ck_conv3x3_block()!
        let threads = Parallel.threadsForOneItem
        Parallel.split(batch * groups, unitWork: inPerGroup * paddedPlane, threads: threads) { items in
            for item in items {
                let (image, group) = item.quotientAndRemainder(dividingBy: groups)
                let target = padded.pointer + item * inPerGroup * paddedPlane
                for c in 0..<inPerGroup {
                    copyZeroPadded(source.pointer + ((group * inPerGroup + c) * batch + image) * inputPlane, height: height,
                                   width: width, padding: 1, into: target + c * paddedPlane)
                }
            }
        }
        packed.withUnsafeBufferPointer { weights in
            let blocks = UnsafeSendable(weights.baseAddress!)
            let blockCount = outChannels / Self.block
            Parallel.split(batch * blockCount, unitWork: Self.block * outputPlane * inPerGroup * 9, threads: threads) { items in
                for item in items {
                    let (image, block) = item.quotientAndRemainder(dividingBy: blockCount)
                    let group = block / blocksPerGroup, first = block * Self.block
                    let out = destination.pointer + (first * batch + image) * outputPlane
                    kernel(padded.pointer + (image * groups + group) * inPerGroup * paddedPlane, paddedHeight, paddedWidth, inPerGroup,
                           blocks.value + first * inPerGroup * 9, self.stride, outputHeight, outputWidth, out, batch * outputPlane)
                    for o in 0..<Self.block {
                        activation.apply(out + o * batch * outputPlane, count: outputPlane, shift: bias?[first + o] ?? 0)
                    }
                }
            }
        }
    }
}
