import ArgumentParser

@main
struct ClsWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cls-worker",
        abstract: "MGMT classifier stage: slice selection, ECA-NFNet-L0 + BiLSTM over 35-slice chunks (T4E).",
        subcommands: [Run.self, Bench.self, WorkCommand.self, DemoWeightsCommand.self])
}
