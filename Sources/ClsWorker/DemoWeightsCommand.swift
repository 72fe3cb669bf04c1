import ArgumentParser
import Classification
import Foundation
import Inference
import Ingestion

/// `cls-worker demo-weights DIR`: seeded random classifier weights (full architecture) for the demo and tests.
struct DemoWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo-weights",
        abstract: "Write seeded RANDOM classifier-<type>.safetensors files: the full architecture, meaningless output.")

    @Argument(help: "Model directory to write into.")
    var directory: String

    @Option(help: "MRI types to write, comma-separated.")
    var types: String = MRIType.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Base seed (each MRI type adds its position).")
    var seed: UInt64 = 0x5EED_C1A5

    func run() throws {
        let url = URL(fileURLWithPath: directory)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for name in types.split(separator: ",").map(String.init) {
            guard let type = MRIType(rawValue: name), let position = MRIType.allCases.firstIndex(of: type) else {
                throw ValidationError("unknown MRI type '\(name)'")
            }
            let baseSeed = seed &+ UInt64(position)
            var tensors: [String: Tensor] = [:]
            for (key, shape) in SequenceClassifier.manifest() {
                tensors[key] = SeededWeights.tensor(key: key, shape: shape,
                                                    rule: SequenceClassifier.seededRule(key: key, shape: shape),
                                                    baseSeed: baseSeed)
            }
            let file = url.appendingPathComponent(ClassifierWeights.fileName(mriType: type))
            try SafeTensorsWriter.write(tensors, metadata: ["format": "pt", "seed": "\(baseSeed)", "demo": "random"],
                                        to: file)
            print("wrote \(file.path) (seeded random weights, seed \(baseSeed): NOT a trained model)")
        }
    }
}
