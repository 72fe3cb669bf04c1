import Domain
import Fleet
import Foundation
import XCTest

final class ArtifactStoreTests: XCTestCase {
    private var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-store-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: root)
    }

    func testPutThenReadVerifiesSha256() throws {
        let store = try ArtifactStore(root: root.path)
        let ref = try store.put(Data("hello".utf8), key: "segment/job1/masks.npy")
        // sha256("hello"), as `sha256sum` prints it.
        XCTAssertEqual(ref.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        XCTAssertEqual(try store.read(ref), Data("hello".utf8))
        XCTAssertTrue(store.contains(ref))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("segment/job1").path)
        XCTAssertEqual(leftovers, ["masks.npy"], "no temporary file may stay behind")
    }

    func testCorruptionAndAbsenceAreDetected() throws {
        let store = try ArtifactStore(root: root.path)
        let ref = try store.put(Data("hello".utf8), key: "a/b")
        try Data("hellO".utf8).write(to: URL(fileURLWithPath: try store.location(of: "a/b")))
        XCTAssertThrowsError(try store.read(ref)) { error in
            guard case .checksumMismatch(let key, _, _) = error as? ArtifactStoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(key, "a/b")
            XCTAssertFalse((error as? ArtifactStoreError)?.isTransient ?? true)
        }
        // Missing from a reachable store: permanent (retrying cannot bring it back), with the key in the reason.
        XCTAssertThrowsError(try store.read(ArtifactRef(key: "a/none", sha256: ref.sha256))) { error in
            guard case .missing = error as? ArtifactStoreError else { return XCTFail("\(error)") }
            XCTAssertFalse((error as? ArtifactStoreError)?.isTransient ?? true)
            XCTAssertEqual("\(error)", "artifact 'a/none' is not in the store")
        }
        XCTAssertFalse(store.contains(ArtifactRef(key: "a/none", sha256: ref.sha256)))
        // The store itself unreachable (a volume not mounted yet): transient.
        try FileManager.default.removeItem(at: root)
        XCTAssertThrowsError(try store.read(ref)) { error in
            XCTAssertTrue((error as? ArtifactStoreError)?.isTransient ?? false, "\(error)")
        }
    }

    func testRewritesAreIdempotentAndReplaceAtomically() throws {
        let store = try ArtifactStore(root: root.path)
        let first = try store.put(Data("v1".utf8), key: "k/file")
        let path = try store.location(of: "k/file")
        let inode = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        XCTAssertEqual(try store.put(Data("v1".utf8), key: "k/file"), first)
        let sameInode = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        XCTAssertEqual(inode, sameInode, "writing the same content again must not touch the file")
        let second = try store.put(Data("v2".utf8), key: "k/file")
        XCTAssertNotEqual(first.sha256, second.sha256)
        XCTAssertEqual(try store.read(second), Data("v2".utf8))
    }

    func testMaterializeLinksAVerifiedCopy() throws {
        let store = try ArtifactStore(root: root.path)
        let ref = try store.put(Data([1, 2, 3]), key: "ingest/x/image_uint8.npy")
        let workspace = root.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        let target = workspace.appendingPathComponent("image_uint8.npy")
        try store.materialize(ref, at: target)
        XCTAssertEqual(try Data(contentsOf: target), Data([1, 2, 3]))
    }

    func testKeysCannotEscapeTheRoot() throws {
        let store = try ArtifactStore(root: root.path)
        for key in ["../etc/passwd", "/abs", "a//b", "a/../b", ".hidden", "a/b c", ""] {
            XCTAssertThrowsError(try store.put(Data(), key: key), key) { error in
                guard case .invalidKey = error as? ArtifactStoreError else { return XCTFail("\(key): \(error)") }
            }
        }
    }
}
