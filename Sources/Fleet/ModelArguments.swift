import ArgumentParser
import Foundation

/// The settings of the offline commands that run a model (`seg-worker run|bench`, `cls-worker run`): an option,
/// else the environment as the fleet reads and validates it (`FleetConfiguration`), so that a bad MGMT_THREADS is
/// an error offline as it is in the fleet, never silently replaced by a default.
public struct ModelArguments: ParsableArguments {
    @Option(help: "Model directory: segmentation.safetensors, classifier-<type>.safetensors (default: $MGMT_MODELS).")
    public var models: String?

    @Option(help: "Compute threads (default: $MGMT_THREADS, else the machine's cores).")
    public var threads: Int?

    @Flag(help: "Log progress to standard error.")
    public var verbose = false

    public init() {}

    public func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    /// The model directory and thread count, with the environment read once; logging is set up as in the fleet.
    public func resolve() throws -> (modelsDirectory: URL, threads: Int) {
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: verbose ? "info" : "warning")
        return (URL(fileURLWithPath: models ?? configuration.modelsDirectory), threads ?? configuration.threads)
    }
}
