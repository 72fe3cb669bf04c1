import ArgumentParser
import Foundation
import Ingestion

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Ingest STUDY and write study.json plus one series directory per series to --out.",
        discussion: "Exits 0 when at least one series was written, 2 when none was (study.json then lists why).")

    @Argument(help: "Study folder (one sub-folder per series).")
    var study: String

    @Option(help: "Output directory.")
    var out: String

    @OptionGroup var stage: StageArguments

    func run() throws {
        let result = try stage.ingestor().ingest(study: URL(fileURLWithPath: study))
        try result.write(to: URL(fileURLWithPath: out))
        for entry in result.metadata.series {
            print("\(entry.dir)\t\(entry.mriType.rawValue)\t\(entry.slices) slices")
        }
        for issue in result.metadata.errors { FileHandle.standardError.write(Data("error: \(issue)\n".utf8)) }
        for issue in result.metadata.warnings { FileHandle.standardError.write(Data("warning: \(issue)\n".utf8)) }
        if result.series.isEmpty { throw ExitCode(2) }
    }
}
