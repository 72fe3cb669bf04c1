#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The memory one thread needs to run a model, so that a forward pass allocates nothing once the first pass
/// has sized it. Two kinds:
/// - feature maps that live across layers (`featureMap`, `floats`): bump-allocated, all freed at once by
///   `reset()` at the start of a pass; after the first pass they come from one block sized for a whole pass;
/// - short-lived buffers (`scratch(slot, count:)`): one buffer per slot, grown on demand, valid until the same
///   slot is asked for again. Slot 0 belongs to the convolutions (im2col columns, Winograd tiles); models
///   number theirs from 1.
/// One thread at a time.
public final class Workspace: @unchecked Sendable {
    /// The convolutions' own scratch slot.
    static let convolutionSlot = 0

    private var blocks: [UnsafeMutableBufferPointer<Float>] = []
    private var used = 0  // floats used in the last block
    private var total = 0  // floats handed out since reset
    private var slots: [UnsafeMutableBufferPointer<Float>] = []

    public init() {}

    deinit {
        blocks.forEach(Self.release)
        slots.forEach(Self.release)
    }

    /// `count` floats, 64-byte aligned, valid until `reset()`.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        let rounded = (count + 15) & ~15
        total += rounded
        if let last = blocks.last, used + rounded <= last.count {
            defer { used += rounded }
            return last.baseAddress! + used
        }
        let block = Self.allocate(max(rounded, 1 << 20))
        blocks.append(block)
        used = rounded
        return block.baseAddress!
    }

    /// A single image's feature map of this size, valid until `reset()`.
    public func featureMap(channels: Int, height: Int, width: Int) -> FeatureMap {
        FeatureMap(data: floats(channels * height * width), channels: channels, height: height, width: width)
    }

    /// Frees every feature map; merges the blocks into one sized for the largest pass so far.
    public func reset() {
        if blocks.count > 1 {
            blocks.forEach(Self.release)
            blocks = [Self.allocate(total)]
        }
        used = 0
        total = 0
    }

    /// At least `count` floats of slot `slot`; valid until that slot is asked for again.
    public func scratch(_ slot: Int, count: Int) -> UnsafeMutablePointer<Float> {
        while slots.count <= slot { slots.append(UnsafeMutableBufferPointer(start: nil, count: 0)) }
        if slots[slot].count < count {
            Self.release(slots[slot])
            slots[slot] = Self.allocate(count)
        }
        return slots[slot].baseAddress ?? UnsafeMutablePointer(bitPattern: 16)!  // count 0: never dereferenced
    }

    /// Blocks are mappings of their own, not malloc's: they grow during the first pass and are replaced after it,
    /// and glibc keeps freed heap blocks resident (past its first large free it serves up to 32 MB from the heap),
    /// which cost a seg-worker 90 MB. Page-aligned, so 64-byte aligned.
    private static func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        guard count > 0 else { return UnsafeMutableBufferPointer(start: nil, count: 0) }
        guard let memory = mmap(nil, count * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              memory != MAP_FAILED
        else { fatalError("workspace: cannot map \(count * 4) bytes") }
        return UnsafeMutableBufferPointer(start: memory.bindMemory(to: Float.self, capacity: count), count: count)
    }

    private static func release(_ block: UnsafeMutableBufferPointer<Float>) {
        if let start = block.baseAddress { munmap(start, block.count * 4) }
    }
}
