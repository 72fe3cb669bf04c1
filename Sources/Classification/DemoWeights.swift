import Foundation
import Ingestion
import Inference

extension ClassifierWeights {
    /// DEMO `classifier-<type>.safetensors` (see `DemoWeightsFile`): seeded weights of ECA-NFNet-L0 + BiLSTM +
    /// head, a different seed per type.
    public static func writeDemo(_ type: MRIType, to directory: URL, seed: UInt64 = 0x5EED_C1A5) throws -> URL {
        let typeSeed = seed &+ UInt64(MRIType.allCases.firstIndex(of: type) ?? 0)
        var tensors: [String: Tensor] = [:]
        for (key, shape) in SequenceClassifier.manifest() {
            tensors[key] = SeededWeights.tensor(key: key, shape: shape, rule: SequenceClassifier.seededRule(key: key, shape: shape),
                                                baseSeed: typeSeed)
        }
        return try DemoWeightsFile.write(tensors, name: fileName(mriType: type), in: directory, seed: typeSeed)
    }
}
