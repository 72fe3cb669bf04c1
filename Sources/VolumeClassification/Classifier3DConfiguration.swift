import Domain
import Foundation

/// The parameters of the 3D classifier's preprocessing and network, from the model directory's optional
/// `classifier3d.json`; a key it does not give takes the value of J. Borovec's baseline (kaggle_brain3d at
/// 1c13ddd with MONAI ≥ 0.9), an unknown key is an error (a misspelt key must not silently mean the default).
///
/// ```json
/// {"size": 224, "quantiles": [0.01, 0.99], "crop_threshold": 1e-6, "mean": 0.093, "std": 0.214,
///  "stem_stride": [1, 1, 1], "depth": 18}
/// ```
/// `"crop_threshold": null` switches the projection crop off (the baseline's own notebook ran without it);
/// `"stem_stride": [1, 2, 2]` is the stem of MONAI < 0.9.
public struct Classifier3DConfiguration: Sendable, Equatable, Codable {
    public static let fileName = "classifier3d.json"

    /// The edge of the cube the volume is resized to (S, twice: before and after the crop).
    public var size: Int = 224
    /// The quantiles (NumPy's linear method, over the whole volume) mapped to 0 and 1, unclipped.
    public var quantiles: [Double] = [0.01, 0.99]
    /// The projection crop's threshold; nil: no crop.
    public var cropThreshold: Double? = 1e-6
    /// The normalisation after the second resize: (v − mean) / std.
    public var mean: Float = 0.093
    public var std: Float = 0.214
    /// The stem convolution's stride along the network's (depth, height, width) = the volume's (rows, columns, slices).
    public var stemStride: [Int] = [1, 1, 1]
    /// MONAI resnet18 or resnet34.
    public var depth: Int = 18

    public init() {}

    /// `classifier3d.json` in `modelsDirectory`, or the defaults when there is none.
    public init(modelsDirectory: URL) throws {
        let url = modelsDirectory.appendingPathComponent(Self.fileName)
        guard FileManager.default.fileExists(atPath: url.path) else {
            self.init()
            return
        }
        do {
            self = try DocumentJSON.decoder.decode(Self.self, from: Data(contentsOf: url))
        } catch let error as Classifier3DError {
            throw error
        } catch {
            throw Classifier3DError.invalidConfiguration("\(url.path): \(error)")
        }
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case size, quantiles, cropThreshold, mean, std, stemStride, depth
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let known = Set(CodingKeys.allCases.map(\.stringValue))
        let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).filter { !known.contains($0) }
        guard unknown.isEmpty else {
            throw Classifier3DError.invalidConfiguration("unknown key(s) \(unknown.sorted()) in \(Self.fileName)")
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = Self()
        size = try container.decodeIfPresent(Int.self, forKey: .size) ?? defaults.size
        quantiles = try container.decodeIfPresent([Double].self, forKey: .quantiles) ?? defaults.quantiles
        // Absent means the default threshold; an explicit null means no crop.
        if container.contains(.cropThreshold) {
            cropThreshold = try container.decodeNil(forKey: .cropThreshold)
                ? nil : try container.decode(Double.self, forKey: .cropThreshold)
        } else {
            cropThreshold = defaults.cropThreshold
        }
        mean = try container.decodeIfPresent(Float.self, forKey: .mean) ?? defaults.mean
        std = try container.decodeIfPresent(Float.self, forKey: .std) ?? defaults.std
        stemStride = try container.decodeIfPresent([Int].self, forKey: .stemStride) ?? defaults.stemStride
        depth = try container.decodeIfPresent(Int.self, forKey: .depth) ?? defaults.depth
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(size, forKey: .size)
        try container.encode(quantiles, forKey: .quantiles)
        try container.encode(cropThreshold, forKey: .cropThreshold)  // null when off, so it round-trips
        try container.encode(mean, forKey: .mean)
        try container.encode(std, forKey: .std)
        try container.encode(stemStride, forKey: .stemStride)
        try container.encode(depth, forKey: .depth)
    }

    /// Throws `invalidConfiguration` naming the first bad value.
    public func validate() throws {
        func fail(_ message: String) -> Classifier3DError { .invalidConfiguration("\(Self.fileName): \(message)") }
        guard size >= 16 else { throw fail("size must be at least 16, found \(size)") }
        guard quantiles.count == 2, quantiles[0] >= 0, quantiles[0] < quantiles[1], quantiles[1] <= 1 else {
            throw fail("quantiles must be [low, high] with 0 ≤ low < high ≤ 1, found \(quantiles)")
        }
        if let cropThreshold, !cropThreshold.isFinite { throw fail("crop_threshold must be a number or null") }
        guard mean.isFinite, std.isFinite, std > 0 else { throw fail("mean must be finite and std positive") }
        guard stemStride.count == 3, stemStride.allSatisfy({ (1...2).contains($0) }) else {
            throw fail("stem_stride must be three strides of 1 or 2, found \(stemStride)")
        }
        guard ResNet3DArchitecture.blocksPerStage[depth] != nil else {
            throw fail("depth must be one of \(ResNet3DArchitecture.blocksPerStage.keys.sorted()), found \(depth)")
        }
    }
}

/// Why the 3D classifier could not load or run.
public enum Classifier3DError: Error, CustomStringConvertible, Equatable {
    case invalidConfiguration(String)
    /// The volume cannot be classified (empty, not finite, or all one value between the quantiles).
    case invalidVolume(String)

    public var description: String {
        switch self {
        case let .invalidConfiguration(message): return "3D classifier configuration: \(message)"
        case let .invalidVolume(message): return "3D classifier input: \(message)"
        }
    }
}
