import Foundation
import XCTest

/// A few hundred damaged files (tools/testdata/make_mutants.py over a generated study with its traps) through the
/// real `ingest inspect --json` and `ingest run`: every run ends by itself within a bounded time with a status the
/// command documents (never a signal), and inspect's report stays valid JSON.
final class MutantCorpusTests: XCTestCase {
    private static let runDeadline = 60.0

    func testMutatedStudiesNeverCrashOrHangIngest() throws {
        let ingest = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("ingest")
        guard FileManager.default.isExecutableFile(atPath: ingest.path) else {
            throw XCTSkip("no ingest executable beside the tests at \(ingest.path)")
        }
        let work = try temporaryDirectory(self)
        let python = URL(fileURLWithPath: "/usr/bin/python3")
        let tools = repositoryRoot.appendingPathComponent("tools/testdata")
        XCTAssertEqual(try run(python, [tools.appendingPathComponent("make_study.py").path, "--out", work.path + "/source",
                                        "--patient", "00900", "--slices", "8", "--size", "48", "--traps"],
                               log: work.appendingPathComponent("make_study.log")).status, .exited(0))
        XCTAssertEqual(try run(python, [tools.appendingPathComponent("make_mutants.py").path, "--source",
                                        work.path + "/source/00900", "--out", work.path + "/mutants", "--studies", "30"],
                               log: work.appendingPathComponent("make_mutants.log")).status, .exited(0))
        let studies = try FileManager.default.contentsOfDirectory(atPath: work.path + "/mutants").sorted()
        XCTAssertEqual(studies.count, 30)
        let files = FileManager.default.enumerator(atPath: work.path + "/mutants")?.allObjects.count ?? 0
        XCTAssertGreaterThan(files, 250, "a few hundred files")

        var slowest = 0.0
        for name in studies {
            let study = work.path + "/mutants/" + name
            let inspect = try run(ingest, ["inspect", study, "--json"], log: work.appendingPathComponent("\(name).json"))
            XCTAssertEqual(inspect.status, .exited(0), "inspect \(name): \(inspect.output.suffix(2000))")
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(contentsOf: work.appendingPathComponent("\(name).json"))),
                             name)
            let ingested = try run(ingest, ["run", study, "--out", work.path + "/out/" + name],
                                   log: work.appendingPathComponent("\(name).log"))
            XCTAssertTrue([.exited(0), .exited(2)].contains(ingested.status),
                          "run \(name): \(ingested.status) \(ingested.output.suffix(2000))")
            slowest = max(slowest, inspect.seconds, ingested.seconds)
        }
        print("mutant corpus: \(studies.count) studies, \(files) entries, slowest run \(slowest) s")
    }

    private enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
        case hung
    }

    /// Runs to completion or kills after `runDeadline`; output (stdout and stderr) goes to `log`.
    private func run(_ executable: URL, _ arguments: [String], log: URL) throws
        -> (status: Ending, output: String, seconds: Double)
    {
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = arguments.contains("--json") ? FileHandle.nullDevice : handle
        let started = Date()
        try process.run()
        while process.isRunning, Date().timeIntervalSince(started) < Self.runDeadline { usleep(20_000) }
        let hung = process.isRunning
        if hung { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let status: Ending = hung ? .hung
            : process.terminationReason == .uncaughtSignal ? .signalled(process.terminationStatus)
            : .exited(process.terminationStatus)
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return (status, output, Date().timeIntervalSince(started))
    }
}
