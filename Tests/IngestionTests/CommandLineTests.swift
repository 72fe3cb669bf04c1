import Foundation
import Ingestion
import SeriesFiles
import XCTest

/// The `ingest` executable, built beside the test bundle (swift build --build-tests builds every product).
final class CommandLineTests: XCTestCase {
    /// Runs `ingest arguments`; with `asUser`, through setpriv with that uid/gid (root can drop privileges
    /// this way, which is the only way a root test run meets a permission error).
    private func ingest(_ arguments: [String], asUser uid: Int? = nil) throws
        -> (status: Int32, output: String, error: String)
    {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let executable = directory.appendingPathComponent("ingest")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw XCTSkip("no ingest executable beside the tests at \(executable.path)")
        }
        let process = Process()
        if let uid {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", executable.path] + arguments
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    func testRunWritesTheSeriesDirectoryAndInspectReportsIt() throws {
        let study = ingestionFixtures.appendingPathComponent("study/00007").path
        let out = try temporaryDirectory(self).appendingPathComponent("out")
        let run = try ingest(["run", study, "--out", out.path])
        XCTAssertEqual(run.status, 0, run.error)
        XCTAssertEqual(run.output, "FLAIR\tFLAIR\t12 slices\n")
        let written = try StudyDirectory(out).read()
        XCTAssertEqual(written.series.first?.metadata.instanceNumbers, Array(3...14))

        let inspect = try ingest(["inspect", study])
        XCTAssertEqual(inspect.status, 0, inspect.error)
        XCTAssertTrue(inspect.output.contains("size 32x32  slices 16 total, 12 non-empty, 12 stored"), inspect.output)
        XCTAssertTrue(inspect.output.contains("order by instance_number: consistent"), inspect.output)
        let json = try ingest(["inspect", study, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        XCTAssertEqual((report?["series"] as? [[String: Any]])?.first?["slices_nonempty"] as? Int, 12)
    }

    func testBadStudyGivesOneErrorLineAndAFailingStatus() throws {
        let notAFolder = dicomFixtures.appendingPathComponent("bad_text.dcm").path
        let result = try ingest(["run", notAFolder, "--out", try temporaryDirectory(self).path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.error, "Error: \(notAFolder): not a readable study folder\n")

        let textOnly = try temporaryDirectory(self)
        try copyItem(dicomFixtures.appendingPathComponent("bad_text.dcm"), to: textOnly.appendingPathComponent("T1w/x"))
        let empty = try ingest(["run", textOnly.path, "--out", textOnly.appendingPathComponent("out").path])
        XCTAssertEqual(empty.status, 2)
        XCTAssertEqual(empty.error, """
            error: not_dicom: T1w/x: not DICOM: no DICM preamble and no parseable dataset
            error: no_series: no recognisable series in the study

            """)
    }

    /// Unreadable files and folders are recorded and the rest of the study proceeds. Tests run as root, who reads
    /// everything, so the stage runs as `nobody` there.
    func testPermissionDenialIsRecordedPerFileAndFolder() throws {
        let study = try temporaryDirectory(self).appendingPathComponent("study")
        try copyFiles(of: ingestionFixtures.appendingPathComponent("study/00007/FLAIR"), into: study.appendingPathComponent("FLAIR"))
        let lockedFile = study.appendingPathComponent("FLAIR/locked")
        try copyItem(dicomFixtures.appendingPathComponent("MR_small.dcm"), to: lockedFile)
        let lockedFolder = study.appendingPathComponent("T2w")
        try copyItem(dicomFixtures.appendingPathComponent("MR_small.dcm"), to: lockedFolder.appendingPathComponent("a"))
        for path in [lockedFile.path, lockedFolder.path] {
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
        }
        addTeardownBlock { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: lockedFolder.path) }
        let nobody = getuid() == 0 ? 65534 : nil
        if nobody != nil && !FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            throw XCTSkip("running as root without setpriv: cannot meet a permission error")
        }
        if let nobody, try !ingestIsExecutable(byUser: nobody) {
            throw XCTSkip("the checkout is not reachable by uid \(nobody): cannot run the stage unprivileged")
        }
        let result = try ingest(["inspect", study.path, "--json"], asUser: nobody)
        XCTAssertEqual(result.status, 0, result.error)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let errors = try XCTUnwrap((report["study"] as? [String: Any])?["errors"] as? [[String: String]])
        XCTAssertEqual(errors.map { $0["message"] ?? "" }.sorted(),
                       ["FLAIR/locked: cannot open: Permission denied", "cannot list T2w"])
        XCTAssertEqual((report["series"] as? [[String: Any]])?.first?["slices"] as? Int, 12)
    }

    private func ingestIsExecutable(byUser uid: Int) throws -> Bool {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("ingest")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/test", "-x", executable.path]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
