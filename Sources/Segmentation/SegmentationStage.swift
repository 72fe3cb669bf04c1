import ArrayFiles
import Foundation
import Imaging
import Inference
import Logging
import SeriesFiles

public enum SegmentationStageError: Error, CustomStringConvertible, Equatable {
    case emptySlices(rows: Int, columns: Int)
    case missingWeights(path: String)
    case notIngestOutput(path: String)

    public var description: String {
        switch self {
        case let .emptySlices(rows, columns): return "segmentation input slices are \(rows)×\(columns): nothing to segment"
        case let .missingWeights(path): return "segmentation weights not found: \(path) (set --models or MGMT_MODELS)"
        case let .notIngestOutput(path): return "\(path) is not an ingest output directory (no study.json or series.json)"
        }
    }
}

/// `segmentation.json` beside `masks.npy` in a series directory.
public struct SegmentationRecord: Codable, Sendable, Equatable {
    public var schema = 1
    public var model = "smp-0.3.3 UnetPlusPlus densenet121 classes=2 sigmoid"
    public var weightsSha256: String
    /// masks.npy shape (S, 2, H, W): channel 0 whole tumour, 1 enhancing; slices in ingest order.
    public var slices: Int
    public var rows: Int
    public var columns: Int
    public var threshold: Float = 0.5
    public var threads: Int
    public var blasCore: String
    public var seconds: Double

    /// Records are written and read by `SeriesDirectory` (snake-case keys).
}

/// The segmentation stage of T4E (inference_on_test.py): per slice, float slice ×3 → resize 268×268 →
/// centre crop 224 → ImageNet normalisation → UNet++ → sigmoid > 0.5 → uint8 → reflect-101 pad to 268 →
/// resize back to the slice size. Slices run in batches, one image per thread.
public final class SegmentationStage {
    public static let weightsFileName = "segmentation.safetensors"
    public static let inputSize = 224
    public static let resizedSize = 268  // int(224 × 1.2)
    static let mean: [Float] = [0.485, 0.456, 0.406]
    static let std: [Float] = [0.229, 0.224, 0.225]

    public let model: UNetPlusPlus
    public let weightsSha256: String
    public let threads: Int
    public let batchSize: Int
    private let workspaces: [Workspace]
    private let logger: Logger

    public init(model: UNetPlusPlus, weightsSha256: String, threads: Int = 2, batchSize: Int = 8,
                logger: Logger = Logger(label: "segmentation")) {
        self.model = model
        self.weightsSha256 = weightsSha256
        self.threads = max(1, threads)
        self.batchSize = max(1, batchSize)
        self.workspaces = (0..<max(1, threads)).map { _ in Workspace() }
        self.logger = logger
    }

    /// Loads `segmentation.safetensors` from a model directory and records its SHA-256.
    public convenience init(modelDirectory: URL, threads: Int = 2, batchSize: Int = 8,
                            logger: Logger = Logger(label: "segmentation")) throws {
        let url = modelDirectory.appendingPathComponent(Self.weightsFileName)
        guard FileManager.default.fileExists(atPath: url.path) else { throw SegmentationStageError.missingWeights(path: url.path) }
        LargeBlocks.returnToTheSystemWhenFreed()
        let file = try SafeTensorsFile(contentsOf: url)
        let reader = StateDictReader(file)
        let model = try UNetPlusPlus(weights: reader)
        try reader.finish()
        let sha = file.sha256
        logger.info("segmentation weights loaded", metadata: [
            "sha256": "\(sha)", "blas_core": "\(BLAS.coreName)", "threads": "\(threads)",
        ])
        self.init(model: model, weightsSha256: sha, threads: threads, batchSize: batchSize, logger: logger)
    }

    /// The model input [3, 224, 224] of one slice (albumentations Resize, CenterCrop, Normalize as T4E).
    public static func modelInput(_ slice: Image<Float>) throws -> [Float] {
        let cropped = try slice.resized(width: resizedSize, height: resizedSize)
            .centreCropped(width: inputSize, height: inputSize)
        var input = [Float](repeating: 0, count: 3 * inputSize * inputSize)
        let plane = inputSize * inputSize
        for c in 0..<3 {
            // albumentations: (x - mean·255) · (1 / (std·255)), in float32.
            let mean = Self.mean[c] * 255, scale = 1 / (Self.std[c] * 255)
            for i in 0..<plane { input[c * plane + i] = (cropped.pixels[i] - mean) * scale }
        }
        return input
    }

    /// A 224×224 {0, 1} mask back to the slice size: reflect-101 pad to 268, bilinear resize (uint8, as OpenCV).
    public static func maskToSliceSize(_ mask: Image<UInt8>, width: Int, height: Int) throws -> Image<UInt8> {
        try mask.paddedReflect101(minWidth: resizedSize, minHeight: resizedSize).resized(width: width, height: height)
    }

    /// Sigmoid probabilities [S, 2, 224, 224] of a volume's slices.
    public func probabilities(_ volume: SeriesVolume<Float>) throws -> Tensor {
        let outPlane = UNetPlusPlus.classes * Self.inputSize * Self.inputSize
        var result = Tensor(zeros: [volume.slices, UNetPlusPlus.classes, Self.inputSize, Self.inputSize])
        try forEachBatch(of: volume) { start, output in
            result.storage.replaceSubrange((start * outPlane)..<(start * outPlane + output.count), with: output.storage)
        }
        return result
    }

    /// Masks (S, 2, H, W) uint8 {0, 1} at the slice size, in the volume's slice order. Each batch's probabilities
    /// become masks before the next batch runs, so a series never holds all its slices' probabilities (60 MB for
    /// 150 slices).
    public func masks(_ volume: SeriesVolume<Float>) throws -> NpyArray {
        let size = Self.inputSize * Self.inputSize
        var masks = [UInt8]()
        masks.reserveCapacity(volume.slices * 2 * volume.sliceValueCount)
        try forEachBatch(of: volume) { _, probabilities in
            for plane in 0..<(probabilities.shape[0] * UNetPlusPlus.classes) {
                let binary = probabilities.storage[(plane * size)..<((plane + 1) * size)].map { $0 > 0.5 ? UInt8(1) : 0 }
                let mask = try Image(width: Self.inputSize, height: Self.inputSize, pixels: binary)
                masks += try Self.maskToSliceSize(mask, width: volume.columns, height: volume.rows).pixels
            }
        }
        return try NpyArray(shape: [volume.slices, UNetPlusPlus.classes, volume.rows, volume.columns], values: .uint8(masks))
    }

    /// The model's probabilities [n, 2, 224, 224] batch by batch: `body(first slice of the batch, probabilities)`.
    private func forEachBatch(of volume: SeriesVolume<Float>, _ body: (Int, Tensor) throws -> Void) throws {
        guard volume.rows > 0, volume.columns > 0 else {
            throw SegmentationStageError.emptySlices(rows: volume.rows, columns: volume.columns)
        }
        for start in stride(from: 0, to: volume.slices, by: batchSize) {
            let end = min(start + batchSize, volume.slices)
            var batch = [Float]()
            batch.reserveCapacity((end - start) * 3 * Self.inputSize * Self.inputSize)
            for s in start..<end {
                let pixels = Array(volume.values[(s * volume.sliceValueCount)..<((s + 1) * volume.sliceValueCount)])
                batch += try Self.modelInput(Image(width: volume.columns, height: volume.rows, pixels: pixels))
            }
            try body(start, try model.predict(Tensor(shape: [end - start, 3, Self.inputSize, Self.inputSize], storage: batch),
                                              threads: threads, workspaces: workspaces))
        }
    }

    /// Segments the series in `directory` (ingest's output) and writes masks.npy, then segmentation.json.
    @discardableResult
    public func run(seriesDirectory url: URL) throws -> SegmentationRecord {
        let started = Date()
        let directory = SeriesDirectory(url)
        guard directory.contains(.metadata) else { throw SegmentationStageError.notIngestOutput(path: url.path) }
        let metadata = try directory.readMetadata()
        let image = try directory.readFloatImage(metadata: metadata)
        try directory.writeMasks(try masks(image))
        let record = SegmentationRecord(
            weightsSha256: weightsSha256, slices: image.slices, rows: image.rows, columns: image.columns,
            threads: threads, blasCore: BLAS.coreName, seconds: Date().timeIntervalSince(started))
        try directory.writeDocument(record, as: .segmentation)
        logger.info("series segmented", metadata: [
            "series": "\(metadata.seriesInstanceUid)", "mri_type": "\(metadata.mriType.rawValue)",
            "slices": "\(record.slices)", "seconds": "\(String(format: "%.2f", record.seconds))",
        ])
        return record
    }

    /// Every series listed in a study directory's study.json.
    public func run(studyDirectory: URL) throws -> [SegmentationRecord] {
        let study = StudyDirectory(studyDirectory)
        guard study.containsMetadata else { throw SegmentationStageError.notIngestOutput(path: studyDirectory.path) }
        return try study.readMetadata().series.map { try run(seriesDirectory: study.series($0).url) }
    }
}
