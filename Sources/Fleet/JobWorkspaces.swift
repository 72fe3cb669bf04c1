import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The job workspaces of one worker, under `<store>/.work/<owner>/`, and the sweep of those whose worker is gone.
///
/// A worker holds an exclusive `flock` on `<owner>/owner.lock` for as long as it lives. The kernel drops the lock
/// when the process ends however it ends (`kill -9` included, and in any container sharing the volume), so a
/// workspace folder whose lock can be taken belongs to nobody: `sweepStale()`, run when a worker starts, removes it.
/// A pid alone could not tell this: pids are reused, and every container's first process is pid 1.
final class JobWorkspaces: @unchecked Sendable {
    static let lockFileName = "owner.lock"
    /// Owner folders are built under this prefix and renamed into place with their lock held, so a sweep never
    /// sees an owner folder without its lock; one left behind by a crash mid-creation is removed after a minute.
    private static let unfinishedPrefix = ".new-"

    let root: URL
    private let ownerName: String
    private let logger: Logger
    private let lock = NSLock()
    private var owner: (directory: URL, lockDescriptor: Int32)?

    init(root: URL, ownerName: String, logger: Logger) {
        self.root = root
        self.ownerName = ownerName
        self.logger = logger
    }

    deinit { close() }

    /// A new empty folder for one job, inside this worker's owner folder.
    func makeWorkspace() throws -> URL {
        let directory = try ownerDirectory().appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        return directory
    }

    /// Removes this worker's folder and releases its lock (a graceful stop leaves nothing behind).
    func close() {
        lock.withLock {
            guard let owner else { return }
            try? FileManager.default.removeItem(at: owner.directory)
            Glibc.close(owner.lockDescriptor)
            self.owner = nil
        }
    }

    /// Removes every owner folder whose lock nobody holds; returns their names.
    @discardableResult
    func sweepStale(unfinishedAfter seconds: Double = 60) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        var swept: [String] = []
        for name in names.sorted() {
            let folder = root.appendingPathComponent(name)
            let isStale: Bool
            if name.hasPrefix(Self.unfinishedPrefix) {
                let modified = (try? FileManager.default.attributesOfItem(atPath: folder.path))?[.modificationDate] as? Date
                isStale = Date().timeIntervalSince(modified ?? Date()) > seconds
            } else {
                isStale = !Self.isLocked(folder)
            }
            guard isStale, (try? FileManager.default.removeItem(at: folder)) != nil else { continue }
            swept.append(name)
        }
        if !swept.isEmpty {
            logger.warning("swept the workspaces of workers that are gone", metadata: ["folders": "\(swept)"])
        }
        return swept
    }

    private func ownerDirectory() throws -> URL {
        try lock.withLock {
            if let owner { return owner.directory }
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            let building = root.appendingPathComponent(Self.unfinishedPrefix + UUID().uuidString)
            try FileManager.default.createDirectory(at: building, withIntermediateDirectories: false)
            let descriptor = open(building.appendingPathComponent(Self.lockFileName).path,
                                  O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard descriptor >= 0, flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                let code = errno
                if descriptor >= 0 { Glibc.close(descriptor) }
                try? FileManager.default.removeItem(at: building)
                throw JobWorkspaceError(reason: "cannot lock a workspace: \(String(cString: strerror(code)))")
            }
            let directory = root.appendingPathComponent("\(ownerName)-\(UUID().uuidString)")
            guard rename(building.path, directory.path) == 0 else {
                let code = errno
                Glibc.close(descriptor)
                try? FileManager.default.removeItem(at: building)
                throw JobWorkspaceError(reason: "cannot create a workspace: \(String(cString: strerror(code)))")
            }
            owner = (directory, descriptor)
            return directory
        }
    }

    /// Whether a live process holds the folder's lock. A folder without a lock file is nobody's.
    private static func isLocked(_ folder: URL) -> Bool {
        let descriptor = open(folder.appendingPathComponent(lockFileName).path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { Glibc.close(descriptor) }
        // Taking the lock (then dropping it with the descriptor) proves its owner is gone.
        return flock(descriptor, LOCK_EX | LOCK_NB) != 0
    }
}

struct JobWorkspaceError: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}
