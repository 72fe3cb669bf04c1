import ArgumentParser
import Classification
import Domain
import Foundation
import Segmentation
import VolumeClassification

/// `cls-worker demo-weights DIR`: DEMO weights for the whole pipeline (see `DemoWeightsFile`).
struct DemoWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-weights",
        abstract: "Write seeded RANDOM weights (full architectures, meaningless output) for the demo and tests.",
        discussion: """
            Writes segmentation.safetensors (seeded UNet++, whole-tumour output biased to cover each slice so that \
            every slice reaches the classifier) and classifier-<type>.safetensors (seeded ECA-NFNet-L0 + BiLSTM); \
            with --resnet3d-size S also classifier3d-<type>.safetensors (seeded MONAI resnet18) and a \
            classifier3d.json with that cube size (the baseline's is 224; a smaller one only makes the demo faster).
            """)

    @Argument(help: "Model directory to write into.")
    var directory: String

    @Option(help: "MRI types to write classifiers for, comma-separated.")
    var types: String = MRIType.allCases.map(\.rawValue).joined(separator: ",")

    @Flag(help: "Skip segmentation.safetensors.")
    var classifiersOnly = false

    @Option(help: "Also write the 3D classifier's DEMO weights, with classifier3d.json setting this cube size.")
    var resnet3dSize: Int?

    func run() throws {
        let url = URL(fileURLWithPath: directory)
        var written: [URL] = []
        if !classifiersOnly { written.append(try UNetPlusPlus.writeDemoWeights(to: url)) }
        for name in types.split(separator: ",").map(String.init) {
            guard let type = MRIType(rawValue: name) else { throw ValidationError("unknown MRI type '\(name)'") }
            written.append(try ClassifierWeights.writeDemo(type, to: url))
            if resnet3dSize != nil { written.append(try Classifier3D.writeDemo(type, to: url)) }
        }
        if let resnet3dSize {
            guard resnet3dSize >= 8 else { throw ValidationError("--resnet3d-size must be at least 8") }
            var configuration = Classifier3DConfiguration()
            configuration.size = resnet3dSize
            let file = url.appendingPathComponent(Classifier3DConfiguration.fileName)
            try DocumentJSON.encoder.encode(configuration).write(to: file, options: .atomic)
            print("wrote \(file.path) (size \(resnet3dSize): smaller than the baseline's 224, for demo speed)")
        }
        for file in written { print("wrote \(file.path) (seeded RANDOM weights: NOT a trained model)") }
    }
}
