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
        let metadata = try stage.ingestor().ingest(study: URL(fileURLWithPath: study), into: URL(fileURLWithPath: out))
        for entry in metadata.series {
            print("\(entry.dir)\t\(entry.mriType.rawValue)\t\(entry.slices) slices")
        }
        for issue in metadata.errors { FileHandle.standardError.write(Data("error: \(issue)\n".utf8)) }
        for issue in metadata.warnings { FileHandle.standardError.write(Data("warning: \(issue)\n".utf8)) }
        if metadata.series.isEmpty { throw ExitCode(2) }
    }
}
