import ArgumentParser
import Fleet
import FleetIngest
import Ingestion
import Logging

/// `ingest work`: the ingest worker (consumes `studies`, publishes one `segment` job per series).
struct WorkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "Run the ingest worker until SIGTERM (configuration: MGMT_* environment variables, see README).")

    func run() throws {
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        var options = IngestOptions()
        options.decodeThreads = configuration.threads
        let logger = Logger(label: "ingest")
        try WorkerProcess.run(IngestStage(ingestor: StudyIngestor(options: options, logger: logger),
                                          exportRoots: configuration.exportRoots + [configuration.dicomIncoming]),
                              configuration: configuration, logger: logger)
    }
}
