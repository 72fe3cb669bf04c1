import ArgumentParser
import Foundation
import Logging

@main
struct SegWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seg-worker",
        abstract: "The segmentation stage: UNet++/DenseNet121 tumour masks for ingested series.",
        // Every subcommand of the `seg-worker` executable, in one place.
        subcommands: [RunCommand.self, BenchCommand.self, SeededWeightsCommand.self]
    )
}

/// Settings shared by the subcommands that run the model.
struct ModelArguments: ParsableArguments {
    @Option(help: "Model directory holding segmentation.safetensors (default: $MGMT_MODELS).")
    var models: String?

    @Option(help: "Threads (default: $MGMT_THREADS, else the number of cores). With batches, one image per thread.")
    var threads: Int?

    @Flag(help: "Log progress to standard error.")
    var verbose = false

    var resolvedThreads: Int {
        threads ?? ProcessInfo.processInfo.environment["MGMT_THREADS"].flatMap(Int.init)
            ?? ProcessInfo.processInfo.activeProcessorCount
    }

    func modelDirectory() throws -> URL {
        guard let path = models ?? ProcessInfo.processInfo.environment["MGMT_MODELS"], !path.isEmpty else {
            throw ValidationError("no model directory: pass --models or set MGMT_MODELS")
        }
        return URL(fileURLWithPath: path)
    }

    func bootstrapLogging() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .info : .warning
            return handler
        }
    }
}
