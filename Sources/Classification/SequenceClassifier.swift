import ArrayFiles
import Foundation
import Inference

/// T4E's `BrainSequenceModelNFNet`: ECA-NFNet-L0 embeddings of 35 frames → bidirectional LSTM(2304, 128) → the 35
/// outputs flattened → Linear(8960, 1) → sigmoid. Split so that embeddings and LSTM input projections are
/// computed once per frame and shared by every chunk containing it.
public struct SequenceClassifier: Sendable {
    public static let sequenceLength = ChunkPlan.sequenceLength
    public static let hiddenSize = 128
    static let headWidth = 2 * hiddenSize * sequenceLength

    public let backbone: ECANFNet
    public let lstm: BidirectionalLSTM
    let head: Linear

    /// Every state_dict entry, with PyTorch's names and shapes.
    public static func manifest() -> [(key: String, shape: [Int])] {
        let width = ECANFNetArchitecture.embeddingWidth, gates = 4 * hiddenSize
        var entries = ECANFNetArchitecture.manifest(prefix: "backbone.")
        for suffix in ["", "_reverse"] {
            entries += [("lstm.weight_ih_l0\(suffix)", [gates, width]), ("lstm.weight_hh_l0\(suffix)", [gates, hiddenSize]),
                        ("lstm.bias_ih_l0\(suffix)", [gates]), ("lstm.bias_hh_l0\(suffix)", [gates])]
        }
        entries += [("clf_head.weight", [1, headWidth]), ("clf_head.bias", [1])]
        return entries
    }

    public init(weights source: WeightSource) throws {
        backbone = try ECANFNet(weights: source, prefix: "backbone.")
        lstm = try BidirectionalLSTM.load("lstm", from: source, inputSize: ECANFNetArchitecture.embeddingWidth, hiddenSize: Self.hiddenSize)
        head = try Linear(weight: source.tensor("clf_head.weight", shape: [1, Self.headWidth]),
                          bias: source.tensor("clf_head.bias", shape: [1]))
    }

    /// From a safetensors file holding exactly the model's keys (a missing, extra or misshapen tensor is an error).
    public init(file: SafeTensorsFile) throws {
        let reader = StateDictReader(file)
        try self.init(weights: reader)
        try reader.finish()
    }

    /// Reproducible weights (engine's SeededWeights), the same as tools/reference/cls_fixtures.py makes.
    public static func seeded(baseSeed: UInt64) throws -> SequenceClassifier {
        try SequenceClassifier(weights: SeededWeightSource(baseSeed: baseSeed) { key, shape, _ in seededRule(key: key, shape: shape) })
    }

    /// Value ranges of the seeded weights (mirrors `classifier_rule` in cls_fixtures.py): gains non-zero, LSTM
    /// in PyTorch's own range, a head wide enough that chunk logits differ by whole units.
    public static func seededRule(key: String, shape: [Int]) -> SeededWeights.Rule {
        let name = key.split(separator: ".").last.map(String.init) ?? key
        if key.hasPrefix("lstm.") {
            let bound = Float(1 / Double(hiddenSize).squareRoot())
            return .uniform(low: -bound, high: bound)
        }
        if key == "clf_head.weight" { return .uniform(low: -0.08, high: 0.08) }
        if name == "gain" { return .uniform(low: 0.5, high: 1.5) }
        if name == "bias" { return .uniform(low: -0.1, high: 0.1) }
        let bound = Float((3.0 / Double(max(shape.dropFirst().reduce(1, *), 1))).squareRoot())
        return .uniform(low: -bound, high: bound)
    }

    /// Sigmoid probability of the chunk made of the given embedding rows (see `BidirectionalLSTM.project`).
    public func probability(_ projections: LSTMProjections, sequence: [Int]) throws -> Float {
        guard sequence.count == Self.sequenceLength else {
            throw InferenceError.shapeMismatch(what: "chunk", expected: [Self.sequenceLength], found: [sequence.count])
        }
        let features = try lstm.run(projections, sequence: sequence)
        var logit: Float = 0
        features.withUnsafeBufferPointer { head.apply(input: $0.baseAddress!, rows: 1, output: &logit) }
        return 1 / (1 + expf(-logit))
    }
}
