import ArrayFiles
import Classification
import Foundation
import Inference
import Ingestion
import Segmentation

/// DEMO weights for the demo and the fleet tests: the full architectures with seeded RANDOM values, so every
/// stage runs its real computation; the probabilities mean nothing. Purely random segmentation weights give
/// noisy masks that no slice selection accepts, so the whole-tumour output is biased up until it covers every
/// slice: then each non-empty slice reaches the classifier, as tumour slices do with trained weights.
public enum DemoWeights {
    public static let wholeTumourBias: Float = 50

    /// `segmentation.safetensors`: the engine's seeded UNet++ weights (`seg-worker seeded-weights`) with
    /// `wholeTumourBias` added to the whole-tumour channel's head bias.
    public static func writeSegmentation(to directory: URL, seed: UInt64 = 2021) throws -> URL {
        let source = UNetPlusPlus.seededWeights(baseSeed: seed)
        _ = try UNetPlusPlus(weights: source)  // records every key and shape
        var tensors = source.stateDict()
        let headBias = "segmentation_head.0.bias"
        guard var bias = tensors[headBias], bias.storage.count == UNetPlusPlus.classes else {
            throw InferenceError.shapeMismatch(what: headBias, expected: [UNetPlusPlus.classes], found: tensors[headBias]?.shape ?? [])
        }
        bias.storage[0] += wholeTumourBias
        tensors[headBias] = bias
        return try write(tensors, name: SegmentationStage.weightsFileName, in: directory, seed: seed)
    }

    /// `classifier-<type>.safetensors`: seeded weights of ECA-NFNet-L0 + BiLSTM + head (a different seed per type).
    public static func writeClassifier(_ type: MRIType, to directory: URL, seed: UInt64 = 0x5EED_C1A5) throws -> URL {
        let typeSeed = seed &+ UInt64(MRIType.allCases.firstIndex(of: type) ?? 0)
        var tensors: [String: Tensor] = [:]
        for (key, shape) in SequenceClassifier.manifest() {
            tensors[key] = SeededWeights.tensor(key: key, shape: shape, rule: SequenceClassifier.seededRule(key: key, shape: shape),
                                                baseSeed: typeSeed)
        }
        return try write(tensors, name: ClassifierWeights.fileName(mriType: type), in: directory, seed: typeSeed)
    }

    private static func write(_ tensors: [String: Tensor], name: String, in directory: URL, seed: UInt64) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(name)
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt", "seed": "\(seed)", "demo": "seeded random weights, not trained"],
                                    to: file)
        return file
    }
}
