import ArgumentParser
import Fleet
import Foundation
import Ingestion

@main
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "The ingest stage: scanner export folders in, ordered and normalised series directories out.",
        // Every subcommand of the `ingest` executable, in one place.
        subcommands: [InspectCommand.self, RunCommand.self, WorkCommand.self, EnqueueCommand.self, ListenCommand.self,
                      DeliverCommand.self]
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

    @Option(help: "Model directory: series of the types with classifier3d-<type>.safetensors there also keep volume.npy, the 3D classifier's raw volume.")
    var models: String?

    func ingestor() throws -> StudyIngestor {
        WorkerProcess.bootstrapLogging(level: verbose ? "info" : "warning")
        var options = IngestOptions()
        if let seriesPatterns {
            options.seriesDescriptionRules = try SeriesDescriptionRules.load(from: URL(fileURLWithPath: seriesPatterns))
        }
        options.cropInPlane = cropInPlane
        if let threads { options.decodeThreads = max(1, threads) }
        if let models { options.volumeTypes = IngestOptions.volumeTypes(modelsDirectory: URL(fileURLWithPath: models)) }
        return StudyIngestor(options: options)
    }
}
