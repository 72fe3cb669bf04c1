import ArgumentParser

@main
struct SegWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seg-worker",
        abstract: "The segmentation stage: UNet++/DenseNet121 tumour masks for ingested series.",
        // Every subcommand of the `seg-worker` executable, in one place.
        subcommands: [RunCommand.self, BenchCommand.self, SeededWeightsCommand.self, WorkCommand.self]
    )
}
