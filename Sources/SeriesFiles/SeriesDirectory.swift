import ArrayFiles
import Domain
import Foundation

/// A series directory: the files each stage adds, their names, and how they are written and read. Ingest writes
/// `series.json`, `image_float.npy` (float32 (S,H,W), 0–255) and `image_uint8.npy` (its uint8 truncation), and
/// for the 3D classifier `volume.npy` (float32 (S,H,W), every slice, VOI-LUT values: `RawVolumeRecord`);
/// segmentation adds `masks.npy` (uint8 (S,2,H,W)) and `segmentation.json`; the classifier `classification.json`.
/// The same names key a job's inputs in the artifact store. JSON documents use `DocumentJSON`.
public struct SeriesDirectory: Sendable {
    public enum File: String, CaseIterable, Sendable {
        case metadata = "series.json"
        case floatImage = "image_float.npy"
        case uint8Image = "image_uint8.npy"
        case masks = "masks.npy"
        case segmentation = "segmentation.json"
        case classification = "classification.json"
        case volume = "volume.npy"

        /// The files ingest writes (a segment job's inputs).
        public static let ingested: [File] = [.metadata, .floatImage, .uint8Image]
        /// What segmentation adds.
        public static let segmented: [File] = [.masks, .segmentation]
        /// What the classifier reads.
        public static let classifierInputs: [File] = [.metadata, .uint8Image, .masks]
        /// What the 3D classifier reads.
        public static let volumeClassifierInputs: [File] = [.metadata, .volume]
        /// What a series' DICOM segmentation is made from (geometry, source UIDs, study attributes; masks).
        public static let dicomOutputInputs: [File] = [.metadata, .masks]

        public var name: String { rawValue }
    }

    public let url: URL

    public init(_ url: URL) {
        self.url = url
    }

    public func url(of file: File) -> URL { url.appendingPathComponent(file.name) }

    public func contains(_ file: File) -> Bool { FileManager.default.fileExists(atPath: url(of: file).path) }

    // MARK: ingest's files

    /// Writes the arrays, then series.json: its presence means the arrays beside it are complete.
    public func write(_ series: IngestedSeries) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try NpyArray(shape: series.image.shape, values: .float32(series.image.values)).write(to: url(of: .floatImage))
        try NpyArray(shape: series.imageUInt8.shape, values: .uint8(series.imageUInt8.values))
            .write(to: url(of: .uint8Image))
        if let volume = series.volume {
            try NpyArray(shape: volume.shape, values: .float32(volume.values)).write(to: url(of: .volume))
        }
        try writeDocument(series.metadata, as: .metadata)
    }

    public func readMetadata() throws -> SeriesMetadata {
        let metadata = try readDocument(SeriesMetadata.self, from: .metadata)
        try SeriesDirectoryError.checkSchema(metadata.schema, path: url(of: .metadata).path)
        return metadata
    }

    /// series.json and both arrays, checked against it.
    public func readIngested() throws -> IngestedSeries {
        let metadata = try readMetadata()
        return IngestedSeries(metadata: metadata, image: try readFloatImage(metadata: metadata),
                              imageUInt8: try readUInt8Image(metadata: metadata),
                              volume: metadata.volume == nil ? nil : try readRawVolume(metadata: metadata))
    }

    /// volume.npy (the 3D classifier's input), checked against `metadata.volume`; an error when ingest kept none.
    public func readRawVolume(metadata: SeriesMetadata) throws -> SeriesVolume<Float> {
        guard let record = metadata.volume else { throw SeriesDirectoryError.noRawVolume(path: url.path) }
        return try readArray(.volume, shape: record.shape, type: "float32") { $0.float32Values }
    }

    /// image_float.npy alone (what segmentation needs), checked against `metadata`'s shape.
    public func readFloatImage(metadata: SeriesMetadata) throws -> SeriesVolume<Float> {
        try readVolume(.floatImage, metadata: metadata, type: "float32") { $0.float32Values }
    }

    /// image_uint8.npy alone (what classification needs), checked against `metadata`'s shape.
    public func readUInt8Image(metadata: SeriesMetadata) throws -> SeriesVolume<UInt8> {
        try readVolume(.uint8Image, metadata: metadata, type: "uint8") { $0.uint8Values }
    }

    private func readVolume<T>(_ file: File, metadata: SeriesMetadata, type: String,
                               values: (NpyArray) -> [T]?) throws -> SeriesVolume<T> {
        try readArray(file, shape: [metadata.slices, metadata.rows, metadata.columns], type: type, values: values)
    }

    private func readArray<T>(_ file: File, shape: [Int], type: String, values: (NpyArray) -> [T]?) throws
        -> SeriesVolume<T>
    {
        let array = try NpyArray(contentsOf: url(of: file))
        guard array.shape == shape else {
            throw SeriesDirectoryError.shapeMismatch(path: url(of: file).path, shape: array.shape, expected: shape)
        }
        guard let values = values(array) else { throw SeriesDirectoryError.wrongType(path: url(of: file).path, expected: type) }
        return SeriesVolume(slices: shape[0], rows: shape[1], columns: shape[2], values: values)
    }

    // MARK: segmentation's files

    public func writeMasks(_ masks: NpyArray) throws {
        try masks.write(to: url(of: .masks))
    }

    /// masks.npy: uint8 (S,2,H,W), channel 0 whole tumour, 1 enhancing; shape checked against `metadata`.
    public func readMasks(metadata: SeriesMetadata) throws -> NpyArray {
        let path = url(of: .masks).path
        let array = try NpyArray(contentsOf: url(of: .masks))
        let expected = [metadata.slices, 2, metadata.rows, metadata.columns]
        guard array.shape == expected else {
            throw SeriesDirectoryError.shapeMismatch(path: path, shape: array.shape, expected: expected)
        }
        guard array.uint8Values != nil else { throw SeriesDirectoryError.wrongType(path: path, expected: "uint8") }
        return array
    }

    // MARK: JSON documents

    /// A stage's record (`segmentation.json`, `classification.json`, `series.json`), written atomically.
    public func writeDocument(_ document: some Encodable, as file: File) throws {
        try DocumentJSON.encoder.encode(document).write(to: url(of: file), options: .atomic)
    }

    public func readDocument<T: Decodable>(_ type: T.Type, from file: File) throws -> T {
        try DocumentJSON.decoder.decode(type, from: Data(contentsOf: url(of: file)))
    }
}

public enum SeriesDirectoryError: Error, Equatable, Sendable, CustomStringConvertible {
    case shapeMismatch(path: String, shape: [Int], expected: [Int])
    case wrongType(path: String, expected: String)
    /// series.json records no raw volume: ingest kept none (the 3D classifier was not enabled for the series).
    case noRawVolume(path: String)
    /// A document written by a newer version of the fleet.
    case unknownSchema(path: String, schema: Int)

    static func checkSchema(_ schema: Int, path: String) throws(SeriesDirectoryError) {
        guard (1...SeriesFilesSchema.version).contains(schema) else { throw .unknownSchema(path: path, schema: schema) }
    }

    public var description: String {
        switch self {
        case .noRawVolume(let path): "\(path): no volume.npy (ingest keeps it only where the 3D classifier is enabled)"
        case .unknownSchema(let path, let schema):
            "\(path): schema \(schema) is not one this version reads (1 to \(SeriesFilesSchema.version))"
        case .wrongType(let path, let expected): "\(path): not a \(expected) array"
        case .shapeMismatch(let path, let shape, let expected):
            "\(path): array shape \(shape) disagrees with series.json \(expected)"
        }
    }
}

/// A study directory: `study.json` and one series directory per entry.
public struct StudyDirectory: Sendable {
    public static let metadataFileName = "study.json"

    public let url: URL

    public init(_ url: URL) {
        self.url = url
    }

    public var containsMetadata: Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent(Self.metadataFileName).path)
    }

    public func writeMetadata(_ metadata: StudyMetadata) throws {
        try DocumentJSON.encoder.encode(metadata).write(to: url.appendingPathComponent(Self.metadataFileName),
                                                        options: .atomic)
    }

    public func readMetadata() throws -> StudyMetadata {
        let path = url.appendingPathComponent(Self.metadataFileName)
        let metadata = try DocumentJSON.decoder.decode(StudyMetadata.self, from: Data(contentsOf: path))
        try SeriesDirectoryError.checkSchema(metadata.schema, path: path.path)
        return metadata
    }

    public func series(_ entry: StudyMetadata.SeriesEntry) -> SeriesDirectory {
        SeriesDirectory(url.appendingPathComponent(entry.dir))
    }

    /// study.json and every series directory it lists.
    public func read() throws -> IngestedStudy {
        let metadata = try readMetadata()
        return IngestedStudy(metadata: metadata, series: try metadata.series.map { try series($0).readIngested() })
    }
}

/// One series as ingest built it: its metadata and both arrays, in memory.
public struct IngestedSeries: Sendable {
    public var metadata: SeriesMetadata
    /// Normalised slices: the segmentation input.
    public var image: SeriesVolume<Float>
    /// `image` truncated to uint8: the classifier's channel 0.
    public var imageUInt8: SeriesVolume<UInt8>
    /// The raw volume for the 3D classifier (`metadata.volume` describes it), when kept.
    public var volume: SeriesVolume<Float>?

    public init(metadata: SeriesMetadata, image: SeriesVolume<Float>, imageUInt8: SeriesVolume<UInt8>,
                volume: SeriesVolume<Float>? = nil) {
        self.metadata = metadata
        self.image = image
        self.imageUInt8 = imageUInt8
        self.volume = volume
    }
}

/// The ingest stage's output for one study.
public struct IngestedStudy: Sendable {
    public var metadata: StudyMetadata
    /// In the order of `metadata.series`.
    public var series: [IngestedSeries]

    public init(metadata: StudyMetadata, series: [IngestedSeries]) {
        self.metadata = metadata
        self.series = series
    }
}
