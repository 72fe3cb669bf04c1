import ArgumentParser
import Classification
import Domain
import Fleet
import FleetClassify
import Foundation
import Logging

/// `cls-worker work`: the classification worker (consumes `classify`, publishes results to `report`); with
/// `--model resnet3d` the 3D classifier's worker (consumes `classify3d`), scaled apart from the 2D one.
struct WorkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work",
        abstract: "Run the classification worker until SIGTERM (configuration: MGMT_* environment variables, see README).")

    @Option(help: "The classifier: nfnet-lstm (queue classify) or resnet3d (queue classify3d; broker user mgmt-classify3d).")
    var model: ClassifierModel = .nfnetLSTM

    @Option(help: "Test-time augmentation of nfnet-lstm: zoom (T4E), none, or zoom+none.")
    var tta: String = TestTimeAugmentation.zoom.rawValue

    func run() throws {
        guard let augmentation = TestTimeAugmentation(rawValue: tta) else {
            throw ValidationError("--tta must be one of \(TestTimeAugmentation.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        let modelsDirectory = URL(fileURLWithPath: configuration.modelsDirectory)
        let logger = Logger(label: "cls-worker")
        switch model {
        case .nfnetLSTM:
            let stage = ClassifyStage(modelsDirectory: modelsDirectory, augmentation: augmentation,
                                      threads: configuration.threads)
            try WorkerProcess.run(stage, configuration: configuration, logger: logger)
        case .resnet3d:
            let stage = VolumeClassifyStage(modelsDirectory: modelsDirectory, threads: configuration.threads)
            try WorkerProcess.run(stage, configuration: configuration, logger: logger)
        }
    }
}
