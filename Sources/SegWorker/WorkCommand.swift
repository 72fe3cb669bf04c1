import ArgumentParser
import Fleet
import FleetSegment
import Foundation
import Logging

/// `seg-worker work`: the segmentation worker (consumes `segment`, publishes `classify`).
struct WorkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "Run the segmentation worker until SIGTERM (configuration: MGMT_* environment variables, see README).")

    func run() throws {
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        let logger = Logger(label: "seg-worker")
        let stage = try SegmentStage(modelsDirectory: URL(fileURLWithPath: configuration.modelsDirectory),
                                     threads: configuration.threads, logger: logger)
        try WorkerProcess.run(stage, configuration: configuration, logger: logger)
    }
}
