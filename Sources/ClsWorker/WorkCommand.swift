import ArgumentParser
import Classification
import Fleet
import FleetClassify
import Foundation
import Logging

/// `cls-worker work`: the classification worker (consumes `classify`, publishes results to `report`).
struct WorkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "Run the classification worker until SIGTERM (configuration: MGMT_* environment variables, see README).")

    @Option(help: "Test-time augmentation: zoom (T4E), none, or zoom+none.")
    var tta: String = TestTimeAugmentation.zoom.rawValue

    func run() throws {
        guard let augmentation = TestTimeAugmentation(rawValue: tta) else {
            throw ValidationError("--tta must be one of \(TestTimeAugmentation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        let stage = ClassifyStage(modelsDirectory: URL(fileURLWithPath: configuration.modelsDirectory),
                                  augmentation: augmentation, threads: configuration.threads)
        try WorkerProcess.run(stage, configuration: configuration, logger: Logger(label: "cls-worker"))
    }
}
