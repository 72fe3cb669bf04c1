import ArrayFiles
import Foundation

extension SafeTensorsFile {
    /// The tensor `key` as float32; with `shape`, a mismatch is an error.
    public func tensor(_ key: String, shape expected: [Int]? = nil) throws -> Tensor {
        let values = try floats(key, shape: expected)
        return Tensor(unchecked: entries[key]!.shape, values)
    }
}

/// Reads a model's tensors by key and shape, remembering which keys were used, so a model loader can
/// insist the file holds exactly the keys the model expects.
public final class StateDictReader {
    public let file: SafeTensorsFile
    private var used: Set<String> = []

    public init(_ file: SafeTensorsFile) { self.file = file }

    public func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        used.insert(key)
        return try file.tensor(key, shape: shape)
    }

    /// A key that must exist but whose value the engine does not use (e.g. num_batches_tracked).
    public func require(_ key: String, shape: [Int]) throws {
        used.insert(key)
        guard let entry = file.entries[key] else { throw SafeTensorsError.missingKey(key) }
        guard entry.shape == shape else { throw SafeTensorsError.wrongShape(key: key, expected: shape, found: entry.shape) }
    }

    /// Throws when the file holds keys the model never asked for.
    public func finish() throws {
        let unexpected = file.keys.filter { !used.contains($0) }
        if !unexpected.isEmpty { throw SafeTensorsError.unexpectedKeys(unexpected) }
    }
}

extension SafeTensorsWriter {
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try write(tensors.mapValues { (shape: $0.shape, values: $0.storage) }, metadata: metadata, to: url)
    }
}
