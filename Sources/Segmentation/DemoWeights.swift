import Foundation
import Inference

extension UNetPlusPlus {
    /// Purely random segmentation weights give noisy masks that no slice selection accepts, so the demo's
    /// whole-tumour output is biased up until it covers every slice: then each non-empty slice reaches the
    /// classifier, as tumour slices do with trained weights.
    public static let demoWholeTumourBias: Float = 50

    /// DEMO `segmentation.safetensors` (see `DemoWeightsFile`): the engine's seeded UNet++ weights
    /// (`seg-worker seeded-weights`) with `demoWholeTumourBias` added to the whole-tumour channel's head bias.
    public static func writeDemoWeights(to directory: URL, seed: UInt64 = 2021) throws -> URL {
        let source = seededWeights(baseSeed: seed)
        _ = try UNetPlusPlus(weights: source)  // records every key and shape
        var tensors = source.stateDict()
        let headBias = "segmentation_head.0.bias"
        guard var bias = tensors[headBias], bias.storage.count == classes else {
            throw InferenceError.shapeMismatch(what: headBias, expected: [classes], found: tensors[headBias]?.shape ?? [])
        }
        bias.storage[0] += demoWholeTumourBias
        tensors[headBias] = bias
        return try DemoWeightsFile.write(tensors, name: SegmentationStage.weightsFileName, in: directory, seed: seed)
    }
}
