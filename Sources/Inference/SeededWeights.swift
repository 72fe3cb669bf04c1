/// Reproducible pseudo-random weights, bit-identical to tools/reference/seeded_weights.py.
///
/// Spec: for a tensor named `key`, stream = baseSeed XOR FNV-1a-64(UTF-8 bytes of key). Element i (0-based,
/// row-major) takes z = splitmix64-mix(stream &+ (i + 1) &* 0x9E3779B97F4A7C15), u = Float(z >> 40) · 2⁻²⁴
/// (exact, in [0, 1)), value = low + (high − low) · u, every step in float32 (low, high rounded to float32 first,
/// no fused multiply-add). The value range comes from a caller's rule per key.
public enum SeededWeights {
    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// `count` uniform float32 values in [low, high) for tensor `key`.
    public static func uniform(key: String, count: Int, low: Float, high: Float, baseSeed: UInt64) -> [Float] {
        let stream = baseSeed ^ fnv1a64(key)
        let span = high - low
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let z = mix(stream &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15)
            let u = Float(z >> 40) * 0x1p-24
            let scaled = span * u
            values[i] = low + scaled
        }
        return values
    }

    /// The value range of one tensor, chosen by the caller from its key and shape.
    public enum Rule: Sendable, Equatable {
        case uniform(low: Float, high: Float)
        case constant(Float)
    }

    /// A tensor filled by `rule`.
    public static func tensor(key: String, shape: [Int], rule: Rule, baseSeed: UInt64) -> Tensor {
        let count = shape.reduce(1, *)
        switch rule {
        case let .uniform(low, high):
            return Tensor(unchecked: shape, uniform(key: key, count: count, low: low, high: high, baseSeed: baseSeed))
        case let .constant(value):
            return Tensor(unchecked: shape, [Float](repeating: value, count: count))
        }
    }

    /// Conventional ranges for conv/batch-norm/linear state_dicts: weights of rank ≥ 2 ±gain·√(3/fan_in),
    /// BN weight [0.8, 1.2), biases and running_mean ±0.1, running_var [0.5, 1.5), num_batches_tracked 0.
    /// A tensor is treated as a batch norm's when its key's module also has a running_mean (`isNorm`).
    public static func standardRule(key: String, shape: [Int], isNorm: Bool, gain: Double = 1) -> Rule {
        let name = key.split(separator: ".").last.map(String.init) ?? key
        switch name {
        case "num_batches_tracked": return .constant(0)
        case "running_mean": return .uniform(low: -0.1, high: 0.1)
        case "running_var": return .uniform(low: 0.5, high: 1.5)
        case "bias": return .uniform(low: -0.1, high: 0.1)
        case "weight" where isNorm: return .uniform(low: 0.8, high: 1.2)
        default:
            let fanIn = shape.dropFirst().reduce(1, *)
            let bound = Float(gain * (3.0 / Double(max(fanIn, 1))).squareRoot())
            return .uniform(low: -bound, high: bound)
        }
    }
}
