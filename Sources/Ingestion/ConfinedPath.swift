import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Inputs are opened only inside the roots they were given: a path counts by where it really is (`realpath`,
/// every symlink and `..` resolved), never by how it is spelled.
public enum ConfinedPath {
    /// The real path, or nil when it does not exist (or a component cannot be read).
    public static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Whether real path `path` is `root` or lies under it (both already resolved).
    public static func isInside(_ path: String, root: String) -> Bool {
        path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }
}
