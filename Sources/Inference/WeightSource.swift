/// Where a model's parameters come from: a safetensors state_dict (`StateDictReader`) or seeded values
/// (`SeededWeightSource`, which also records the model's expected state_dict). Every model loads through it.
public protocol WeightSource: AnyObject {
    /// The tensor `key` of `shape`; `isNorm` marks a batch norm's parameters (seeded sources need it).
    func tensor(_ key: String, shape: [Int], isNorm: Bool) throws -> Tensor
    /// A key that must exist but whose value the engine ignores (num_batches_tracked).
    func require(_ key: String, shape: [Int]) throws
}

extension WeightSource {
    /// A tensor that is not a batch norm's.
    public func tensor(_ key: String, shape: [Int]) throws -> Tensor {
        try tensor(key, shape: shape, isNorm: false)
    }

    /// PyTorch BatchNorm2d parameters under `prefix` (weight, bias, running_mean, running_var, num_batches_tracked).
    public func batchNorm(_ prefix: String, channels: Int, eps: Double = 1e-5) throws -> BatchNorm {
        let weight = try tensor("\(prefix).weight", shape: [channels], isNorm: true)
        let bias = try tensor("\(prefix).bias", shape: [channels], isNorm: true)
        let mean = try tensor("\(prefix).running_mean", shape: [channels], isNorm: true)
        let variance = try tensor("\(prefix).running_var", shape: [channels], isNorm: true)
        try require("\(prefix).num_batches_tracked", shape: [])
        return try BatchNorm(weight: weight.storage, bias: bias.storage, runningMean: mean.storage,
                             runningVar: variance.storage, eps: eps)
    }
}

extension StateDictReader: WeightSource {
    public func tensor(_ key: String, shape: [Int], isNorm: Bool) throws -> Tensor {
        try tensor(key, shape: shape)
    }
}

/// Seeded weights (see `SeededWeights`) for every key a model asks for, with value ranges from `rule`; records
/// the keys and shapes, so it also gives the model's expected state_dict.
public final class SeededWeightSource: WeightSource {
    public typealias Rule = (_ key: String, _ shape: [Int], _ isNorm: Bool) -> SeededWeights.Rule

    public let baseSeed: UInt64
    private let rule: Rule
    /// Every key asked for, in order, with its shape and value rule.
    public private(set) var recorded: [(key: String, shape: [Int], rule: SeededWeights.Rule)] = []

    public init(baseSeed: UInt64, rule: @escaping Rule = { SeededWeights.standardRule(key: $0, shape: $1, isNorm: $2) }) {
        self.baseSeed = baseSeed
        self.rule = rule
    }

    public func tensor(_ key: String, shape: [Int], isNorm: Bool) throws -> Tensor {
        let rule = rule(key, shape, isNorm)
        recorded.append((key, shape, rule))
        return SeededWeights.tensor(key: key, shape: shape, rule: rule, baseSeed: baseSeed)
    }

    public func require(_ key: String, shape: [Int]) throws {
        recorded.append((key, shape, rule(key, shape, true)))
    }

    /// The recorded tensors as a state_dict, e.g. to write a safetensors file.
    public func stateDict() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (key, shape, rule) in recorded {
            result[key] = SeededWeights.tensor(key: key, shape: shape, rule: rule, baseSeed: baseSeed)
        }
        return result
    }
}
