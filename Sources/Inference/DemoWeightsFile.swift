import ArrayFiles
import Foundation

/// DEMO weights for the demo and the fleet tests: full architectures with seeded RANDOM values, so every stage
/// runs its real computation while the probabilities mean nothing. The model libraries write their own
/// (`UNetPlusPlus.writeDemoWeights`, `ClassifierWeights.writeDemo`); this is the file they share.
public enum DemoWeightsFile {
    public static func write(_ tensors: [String: Tensor], name: String, in directory: URL, seed: UInt64) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt", "seed": "\(seed)", "demo": "seeded random weights, not trained"],
                                    to: file)
        return file
    }
}
