/// glibc raises its mmap threshold (up to 32 MB) after the first large free and from then on serves large blocks
/// from its heap, where a freed one stays resident while blocks around it live on: 30–90 MB of a worker's peak
/// (loading frees each raw weight tensor once its prepared form exists; each chunk frees its frames).
public enum LargeBlocks {
    /// Fixes the threshold at 128 kB for the whole process, so every large block is a mapping of its own, given
    /// back to the system when freed. The model loaders call it; nothing happens outside glibc.
    public static func returnToTheSystemWhenFreed() {
        #if os(Linux)
        _ = glibcMallopt(mmapThresholdParameter, 128 * 1024)
        #endif
    }
}

#if os(Linux)
// <malloc.h> is not part of Swift's Glibc module: int mallopt(int param, int value), M_MMAP_THRESHOLD is −3.
private let mmapThresholdParameter: Int32 = -3
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
