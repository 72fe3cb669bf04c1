import Foundation
import XCTest

/// compose.yaml against the Compose Specification's schema (shared/data/compose-spec.json, found beside the
/// checkout as in CI) plus the fleet's own rules, with Debian's python3 (jsonschema + yaml).
final class ComposeTests: XCTestCase {
    private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/data/compose-spec.json` relative to the checkout (CI); a worktree sits one level deeper.
    private func composeSchema() throws -> URL {
        var directory = repositoryRoot
        for _ in 0..<3 {
            directory = directory.deletingLastPathComponent()
            let candidate = directory.appendingPathComponent("shared/data/compose-spec.json")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        throw TestSetupError(message: "shared/data/compose-spec.json not found beside the checkout \(repositoryRoot.path)")
    }

    private func validate(root: URL) throws -> (status: Int32, output: String) {
        try runCapturingOutput(URL(fileURLWithPath: "/usr/bin/python3"),
                               [repositoryRoot.appendingPathComponent("tools/validate_compose.py").path, root.path,
                                try composeSchema().path])
    }

    func testComposeFileIsValidAndScalable() throws {
        let (status, output) = try validate(root: repositoryRoot)
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output, "compose: ok\n")
    }

    func testValidatorCatchesAnUnscalableOrInvalidFile() throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("compose-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: copy) }
        for name in ["README.md", "Dockerfile"] {
            try FileManager.default.copyItem(at: repositoryRoot.appendingPathComponent(name),
                                             to: copy.appendingPathComponent(name))
        }
        var compose = try String(contentsOf: repositoryRoot.appendingPathComponent("compose.yaml"), encoding: .utf8)
        compose = compose.replacingOccurrences(of: "    command: [\"seg-worker\", \"work\"]\n",
                                               with: "    command: [\"seg-worker\", \"work\"]\n    container_name: seg\n    stop_signal: 15\n")
        try compose.write(to: copy.appendingPathComponent("compose.yaml"), atomically: true, encoding: .utf8)
        let (status, output) = try validate(root: copy)
        XCTAssertEqual(status, 1)
        XCTAssertTrue(output.contains("service seg-worker: 'container_name' prevents docker compose --scale"), output)
        XCTAssertTrue(output.contains("schema: services/seg-worker/stop_signal: 15 is not of type 'string'"), output)
    }
}
