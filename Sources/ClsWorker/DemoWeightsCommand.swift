import ArgumentParser
import Classification
import Foundation
import Ingestion
import Segmentation

/// `cls-worker demo-weights DIR`: DEMO weights for the whole pipeline (see `DemoWeightsFile`).
struct DemoWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-weights",
        abstract: "Write seeded RANDOM weights (full architectures, meaningless output) for the demo and tests.",
        discussion: """
            Writes segmentation.safetensors (seeded UNet++, whole-tumour output biased to cover each slice so that \
            every slice reaches the classifier) and classifier-<type>.safetensors (seeded ECA-NFNet-L0 + BiLSTM).
            """)

    @Argument(help: "Model directory to write into.")
    var directory: String

    @Option(help: "MRI types to write classifiers for, comma-separated.")
    var types: String = MRIType.allCases.map(\.rawValue).joined(separator: ",")

    @Flag(help: "Skip segmentation.safetensors.")
    var classifiersOnly = false

    func run() throws {
        let url = URL(fileURLWithPath: directory)
        var written: [URL] = []
        if !classifiersOnly { written.append(try UNetPlusPlus.writeDemoWeights(to: url)) }
        for name in types.split(separator: ",").map(String.init) {
            guard let type = MRIType(rawValue: name) else { throw ValidationError("unknown MRI type '\(name)'") }
            written.append(try ClassifierWeights.writeDemo(type, to: url))
        }
        for file in written { print("wrote \(file.path) (seeded RANDOM weights: NOT a trained model)") }
    }
}
