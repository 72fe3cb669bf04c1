import Foundation
import Ingestion
import XCTest

/// The `ingest` executable, built beside the test bundle (swift build --build-tests builds every product).
final class CommandLineTests: XCTestCase {
    private func ingest(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let executable = directory.appendingPathComponent("ingest")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw XCTSkip("no ingest executable beside the tests at \(executable.path)")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
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
        let written = try IngestedStudy.read(from: out)
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
}
