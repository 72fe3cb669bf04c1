/// The operand of every op: the feature planes of `batch` images in memory owned elsewhere (a `Workspace`, or a
/// tensor's storage), channel-major, [channels][batch][height][width]. A batch of one is an image's CHW; with
/// more, each channel's planes of the whole batch are adjacent, so one GEMM per layer covers the batch (at 14×14
/// and 7×7 a single image gives OpenBLAS too few columns to run near its peak).
public struct FeatureMap {
    public let data: UnsafeMutablePointer<Float>
    public let channels: Int
    public let batch: Int
    public let height: Int
    public let width: Int

    public init(data: UnsafeMutablePointer<Float>, channels: Int, batch: Int = 1, height: Int, width: Int) {
        self.data = data
        self.channels = channels
        self.batch = batch
        self.height = height
        self.width = width
    }

    public var planeSize: Int { height * width }
    public var count: Int { channels * batch * planeSize }
    /// The planes of channel `c`, one per image of the batch.
    public func channel(_ c: Int) -> UnsafeMutablePointer<Float> { data + c * batch * planeSize }
    /// The first `count` channels (contiguous in channel-major order).
    public func leadingChannels(_ count: Int) -> FeatureMap {
        precondition(count <= channels, "\(count) channels of a \(channels)-channel feature map")
        return FeatureMap(data: data, channels: count, batch: batch, height: height, width: width)
    }
}
