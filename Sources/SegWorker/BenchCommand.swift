import ArrayFiles
import ArgumentParser
import Fleet
import Foundation
import Inference
import Segmentation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the model on 224×224 batches (seeded weights unless --models is given); prints one JSON line.")

    @OptionGroup var model: ModelArguments

    @Option(help: "Images per batch.")
    var batch = 8

    @Option(help: "Timed batches (after one warm-up batch).")
    var batches = 2

    @Flag(help: "Also time each layer kind (one more batch, timed per layer; adds `profile_ms`).")
    var profile = false

    func run() throws {
        let settings = try model.resolve()
        // Seeded weights unless a model directory was named (the option or MGMT_MODELS).
        let network = model.models == nil && ProcessInfo.processInfo.environment["MGMT_MODELS"] == nil
            ? try UNetPlusPlus(weights: UNetPlusPlus.seededWeights())
            : try UNetPlusPlus(contentsOf: settings.modelsDirectory.appendingPathComponent(SegmentationStage.weightsFileName))
        let result = try SegmentationBenchmark(model: network).run(threads: settings.threads, batch: batch, batches: batches,
                                                                        profile: profile)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
    }
}

struct SeededWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seeded-weights",
        abstract: "Write the seeded parity weights (base seed 2021, as tools/reference/seg_fixtures.py) as segmentation.safetensors.")

    @Argument(help: "Model directory to write segmentation.safetensors into.")
    var directory: String

    @Option(help: "Base seed.")
    var seed: UInt64 = 2021

    func run() throws {
        let source = UNetPlusPlus.seededWeights(baseSeed: seed)
        _ = try UNetPlusPlus(weights: source)
        let url = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let file = url.appendingPathComponent(SegmentationStage.weightsFileName)
        try SafeTensorsWriter.write(source.stateDict(), metadata: ["format": "pt", "seed": "\(seed)"], to: file)
        print("wrote \(source.recorded.count) tensors to \(file.path)")
    }
}
