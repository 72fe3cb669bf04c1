import ArrayFiles
import Domain
import Foundation
import Inference
import SeriesFiles

/// J. Borovec's 3D classifier of one MRI series: the whole volume of raw values → `VolumePreprocessing` → MONAI's
/// 3D ResNet → sigmoid, with the model directory's `classifier3d-<type>.safetensors` and `classifier3d.json`.
///
/// Input: a `SeriesVolume<Float>` of the series' raw values (DICOM pixel values after the VOI LUT, every decodable
/// slice, none dropped, not normalised), slices × rows × columns in C order (the layout of an .npy of shape
/// (slices, rows, columns)); the network sees it as (rows, columns, slices), as the baseline did.
public struct Classifier3D: Sendable {
    public let network: ResNet3D
    public let configuration: Classifier3DConfiguration
    /// SHA-256 (hex) of the weights file, recorded with every result; nil for weights not read from a file.
    public let weightsSha256: String?
    /// Compute threads: sgemm's, and the convolutions' column building.
    public var threads: Int

    /// `classifier3d-<MRI type>.safetensors`, the name in a model directory.
    public static func fileName(mriType: MRIType) -> String { "classifier3d-\(mriType.rawValue).safetensors" }

    /// The weights file of `mriType` in `modelsDirectory`, or nil when the directory has none (no 3D model for it).
    public static func weightsURL(modelsDirectory: URL, mriType: MRIType) -> URL? {
        let url = modelsDirectory.appendingPathComponent(fileName(mriType: mriType))
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    public init(network: ResNet3D, configuration: Classifier3DConfiguration, weightsSha256: String?, threads: Int = 1) {
        self.network = network
        self.configuration = configuration
        self.weightsSha256 = weightsSha256
        self.threads = max(1, threads)
    }

    /// The weights at `url` (PyTorch's key names, exactly the network's keys and shapes) for `configuration`.
    public init(contentsOf url: URL, configuration: Classifier3DConfiguration, threads: Int = 1) throws {
        let file = try SafeTensorsFile(contentsOf: url)
        let reader = StateDictReader(file)
        let network = try ResNet3D(weights: reader, depth: configuration.depth, stemStride: configuration.stemTriple)
        try reader.finish()
        self.init(network: network, configuration: configuration, weightsSha256: file.sha256, threads: threads)
    }

    /// The model of `mriType` in `modelsDirectory`, with its `classifier3d.json` (or the defaults).
    public init(modelsDirectory: URL, mriType: MRIType, threads: Int = 1) throws {
        let url = modelsDirectory.appendingPathComponent(Self.fileName(mriType: mriType))
        try self.init(contentsOf: url, configuration: try Classifier3DConfiguration(modelsDirectory: modelsDirectory), threads: threads)
    }

    /// The network's input for `volume`: the S³ cube after every preprocessing step, [rows][columns][slices].
    public func preprocess(_ volume: SeriesVolume<Float>) throws -> [Float] {
        try VolumePreprocessing(configuration).cube(of: volume)
    }

    /// The network's logit for `volume`.
    public func logit(of volume: SeriesVolume<Float>) throws -> Float {
        try logit(ofPreprocessed: preprocess(volume))
    }

    /// sigmoid(logit): the probability of MGMT promoter methylation the model gives the series.
    public func probability(of volume: SeriesVolume<Float>) throws -> Float {
        VectorMath.sigmoid(try logit(of: volume))
    }

    /// The logit of an already preprocessed cube (S³ floats, [rows][columns][slices]).
    public func logit(ofPreprocessed cube: [Float]) throws -> Float {
        let size = configuration.size
        guard cube.count == size * size * size else {
            throw Classifier3DError.invalidVolume("a preprocessed cube of \(size)³ values, found \(cube.count)")
        }
        let workspace = Workspace()
        let previousThreads = BLAS.threadCount
        BLAS.threadCount = threads
        defer { BLAS.threadCount = previousThreads }
        return cube.withUnsafeBufferPointer { values in
            // The network only reads its input.
            network.logit(of: FeatureVolume(data: UnsafeMutablePointer(mutating: values.baseAddress!), channels: 1, depth: size,
                                            height: size, width: size),
                          threads: threads, workspace: workspace)
        }
    }
}

extension Classifier3DConfiguration {
    /// The stem stride as the engine's triple.
    var stemTriple: Triple3D { Triple3D(stemStride[0], stemStride[1], stemStride[2]) }
}

extension Classifier3D {
    /// DEMO `classifier3d-<type>.safetensors` (see `DemoWeightsFile`): seeded RANDOM weights of the full network
    /// for `configuration`'s depth, a different seed per type; the probabilities they give mean nothing.
    public static func writeDemo(_ type: MRIType, to directory: URL, depth: Int = 18, seed: UInt64 = 0x5EED_3D18) throws -> URL {
        let typeSeed = seed &+ UInt64(MRIType.allCases.firstIndex(of: type) ?? 0)
        let source = SeededWeightSource(baseSeed: typeSeed)
        _ = try ResNet3D(weights: source, depth: depth, stemStride: 1)
        return try DemoWeightsFile.write(source.stateDict(), name: fileName(mriType: type), in: directory, seed: typeSeed)
    }
}
