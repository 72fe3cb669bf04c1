/// How a series' ordered kept frames are cut into the classifier's fixed-length sequences (T4E `chunk_slices`):
/// n = max(⌈(L − 35) / 5⌉ + 1, 1) chunks, chunk i = frames [5i, min(5i + 35, L)); a chunk shorter than 35 is padded
/// at its end with all-zero frames.
public struct ChunkPlan: Sendable, Equatable {
    public static let sequenceLength = 35
    public static let stride = 5

    public let frameCount: Int
    /// The frame range of each chunk. Empty for a series without kept frames (the reference never forms a chunk
    /// for it).
    public let chunks: [Range<Int>]

    public init(frameCount: Int) {
        self.frameCount = max(frameCount, 0)
        guard frameCount > 0 else {
            chunks = []
            return
        }
        let length = Self.sequenceLength, stride = Self.stride
        // ⌈(L − 35) / 5⌉ + 1 for L ≥ 35; for L < 35 the ceiling is ≤ 0 and the max gives one chunk.
        let count = frameCount > length ? (frameCount - length + stride - 1) / stride + 1 : 1
        chunks = (0..<count).map { i in (i * stride)..<min(i * stride + length, frameCount) }
    }

    /// Zero frames appended to chunk `index` to reach the sequence length.
    public func padding(ofChunk index: Int) -> Int { Self.sequenceLength - chunks[index].count }

    /// Frames that appear in at least one chunk that needs padding (these also take OpenCV's float path).
    public var framesInPaddedChunks: Set<Int> {
        var frames = Set<Int>()
        for (i, range) in chunks.enumerated() where padding(ofChunk: i) > 0 { frames.formUnion(range) }
        return frames
    }

    /// Frames that appear in at least one full chunk (these take OpenCV's uint8 path).
    public var framesInFullChunks: Set<Int> {
        var frames = Set<Int>()
        for (i, range) in chunks.enumerated() where padding(ofChunk: i) == 0 { frames.formUnion(range) }
        return frames
    }
}
