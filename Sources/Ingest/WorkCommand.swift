import ArgumentParser
import Fleet
import FleetIngest
import Foundation
import Ingestion
import Logging

/// `ingest work`: the ingest worker (consumes `studies`, publishes one `segment` job per series, and a `classify3d`
/// job per series whose type has 3D weights in MGMT_MODELS).
struct WorkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "Run the ingest worker until SIGTERM (configuration: MGMT_* environment variables, see README).")

    func run() throws {
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        var options = IngestOptions()
        options.decodeThreads = configuration.threads
        options.volumeTypes = IngestOptions.volumeTypes(modelsDirectory: URL(fileURLWithPath: configuration.modelsDirectory))
        let logger = Logger(label: "ingest")
        try WorkerProcess.run(IngestStage(ingestor: StudyIngestor(options: options, logger: logger),
                                          exportRoots: configuration.exportRoots + [configuration.dicomIncoming]),
                              configuration: configuration, logger: logger)
    }
}
