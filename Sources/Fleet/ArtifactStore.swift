import Crypto
import Domain
import Foundation

#if canImport(Glibc)
import Glibc
#endif

public enum ArtifactStoreError: Error, CustomStringConvertible {
    case invalidKey(String)
    case missing(key: String)
    case checksumMismatch(key: String, expected: String, actual: String)
    case io(operation: String, path: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidKey(let key): return "artifact key '\(key)' is not a relative path of plain names"
        case .missing(let key): return "artifact '\(key)' is not in the store"
        case .checksumMismatch(let key, let expected, let actual):
            return "artifact '\(key)' is corrupt: sha256 \(actual), expected \(expected)"
        case .io(let operation, let path, let code):
            return "artifact store: \(operation) \(path) failed: \(String(cString: strerror(code)))"
        }
    }

    /// An I/O error may pass (a volume remounting, a disk filling up, the store unreachable); an artifact missing
    /// from a reachable store or a corrupt one does not, and its job fails at once with this reason.
    public var isTransient: Bool {
        switch self {
        case .io: return true
        case .missing, .invalidKey, .checksumMismatch: return false
        }
    }
}

/// Content between stages, addressed by key under a directory root (a shared volume in a fleet). Writes go to a
/// temporary name, are fsynced and renamed (readers never see half a file, a crash leaves no partial artifact);
/// reads verify the sha256 the message carried. Writing the same content again is a no-op.
public struct ArtifactStore: Sendable {
    public let root: URL

    public init(root: String) throws(ArtifactStoreError) {
        self.root = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL
        try Self.makeDirectories(self.root.path)
    }

    /// Stores `data` under `key`; returns the reference a message carries.
    @discardableResult
    public func put(_ data: Data, key: String) throws(ArtifactStoreError) -> ArtifactRef {
        let path = try location(of: key)
        let digest = sha256Hex(data)
        if let existing = try? Self.readFile(path), sha256Hex(existing) == digest {
            return ArtifactRef(key: key, sha256: digest)
        }
        let directory = (path as NSString).deletingLastPathComponent
        try Self.makeDirectories(directory)
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        try Self.writeDurably(data, to: temporary)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .io(operation: "rename", path: path, errno: code)
        }
        try Self.syncDirectory(directory)
        return ArtifactRef(key: key, sha256: digest)
    }

    /// Stores a file's content under `key`.
    @discardableResult
    public func put(fileAt source: URL, key: String) throws(ArtifactStoreError) -> ArtifactRef {
        try put(try Self.readFile(source.path), key: key)
    }

    /// Reads an artifact and verifies its sha256.
    public func read(_ ref: ArtifactRef) throws(ArtifactStoreError) -> Data {
        let path = try location(of: ref.key)
        guard FileManager.default.fileExists(atPath: path) else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue
            else { throw .io(operation: "reach the store at", path: root.path, errno: ENOENT) }
            throw .missing(key: ref.key)
        }
        let data = try Self.readFile(path)
        let actual = sha256Hex(data)
        guard actual == ref.sha256 else { throw .checksumMismatch(key: ref.key, expected: ref.sha256, actual: actual) }
        return data
    }

    /// True when the artifact is present with the expected content (a finished job's output on redelivery).
    public func contains(_ ref: ArtifactRef) -> Bool {
        (try? read(ref)) != nil
    }

    /// Places a verified artifact at `destination` (a job's scratch directory). Stored files are never modified in
    /// place (a re-write renames a new file over the key), so a hard link is as good as a copy and costs nothing.
    public func materialize(_ ref: ArtifactRef, at destination: URL) throws(ArtifactStoreError) {
        let data = try read(ref)
        let source = try location(of: ref.key)
        unlink(destination.path)
        if link(source, destination.path) == 0 { return }
        try Self.writeDurably(data, to: destination.path)
    }

    /// The file path of a key; keys are relative paths of plain names (no `..`, no absolute paths).
    public func location(of key: String) throws(ArtifactStoreError) -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !parts.isEmpty, parts.allSatisfy({ part in
            !part.isEmpty && part != "." && part != ".." && !part.hasPrefix(".") && part.allSatisfy(allowed.contains)
        }) else { throw .invalidKey(key) }
        return root.appendingPathComponent(key).path
    }

    private static func readFile(_ path: String) throws(ArtifactStoreError) -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .io(operation: "read", path: path, errno: FileManager.default.fileExists(atPath: path) ? EIO : ENOENT)
        }
        return data
    }

    private static func writeDurably(_ data: Data, to path: String) throws(ArtifactStoreError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .io(operation: "create", path: path, errno: errno) }
        var failure: (String, Int32)?
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = ("write", errno)
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = ("fsync", errno) }
        close(descriptor)
        if let (operation, code) = failure {
            unlink(path)
            throw .io(operation: operation, path: path, errno: code)
        }
    }

    /// A rename is durable only once its directory is synced.
    private static func syncDirectory(_ path: String) throws(ArtifactStoreError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .io(operation: "open", path: path, errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .io(operation: "fsync", path: path, errno: errno) }
    }

    private static func makeDirectories(_ path: String) throws(ArtifactStoreError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw .io(operation: "mkdir", path: path, errno: EIO)
        }
    }
}
