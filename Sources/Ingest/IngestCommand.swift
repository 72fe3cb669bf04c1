import ArgumentParser
import Foundation
import Ingestion
import Logging

@main
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "The ingest stage: scanner export folders in, ordered and normalised series directories out.",
        // Every subcommand of the `ingest` executable, in one place.
        subcommands: [InspectCommand.self, RunCommand.self]
    )
}

/// Settings shared by the subcommands that run the stage.
struct StageArguments: ParsableArguments {
    @Option(help: "JSON file of SeriesDescription rules, [{\"type\":\"FLAIR\",\"pattern\":\"flair\"}, ...], tried in order.")
    var seriesPatterns: String?

    @Flag(help: "Apply the projection crop to rows and columns too (off by default: T4E's weights saw the full field of view).")
    var cropInPlane = false

    @Option(help: "Files decoded at once (default: the number of cores).")
    var threads: Int?

    @Flag(help: "Log each series to standard error.")
    var verbose = false

    func ingestor() throws -> StudyIngestor {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .info : .warning
            return handler
        }
        var options = IngestOptions()
        if let seriesPatterns {
            options.seriesDescriptionRules = try SeriesDescriptionRules.load(from: URL(fileURLWithPath: seriesPatterns))
        }
        options.cropInPlane = cropInPlane
        if let threads { options.decodeThreads = max(1, threads) }
        return StudyIngestor(options: options)
    }
}
