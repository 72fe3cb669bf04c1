import ArrayFiles
import DICOM
import Foundation
import Imaging

/// One recorded problem: a file that could not be used, or a series that was rejected or needs attention.
/// `path` is relative to the study folder.
public struct IngestIssue: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var kind: String
    public var message: String
    public var path: String?
    public var seriesInstanceUID: String?

    public init(kind: String, message: String, path: String? = nil, seriesInstanceUID: String? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
        self.seriesInstanceUID = seriesInstanceUID
    }

    public var description: String { "\(kind): \(message)" }

    enum CodingKeys: String, CodingKey {
        case kind, message, path
        case seriesInstanceUID = "series_instance_uid"
    }
}

/// Geometry of the stored slices, in the stored order.
public struct SeriesGeometry: Codable, Sendable, Equatable {
    public var imageOrientationPatient: [Double]?
    public var pixelSpacing: [Double]?
    public var sliceThickness: Double?
    /// ImagePositionPatient of each stored slice (nil entries for slices without one).
    public var imagePositionPatient: [[Double]?]

    enum CodingKeys: String, CodingKey {
        case imageOrientationPatient = "image_orientation_patient"
        case pixelSpacing = "pixel_spacing"
        case sliceThickness = "slice_thickness"
        case imagePositionPatient = "image_position_patient"
    }
}

/// `series.json`: what ingest knows about one series. Shapes refer to the stored arrays.
public struct SeriesMetadata: Codable, Sendable, Equatable {
    public var schema = 1
    public var patientID: String
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var seriesDescription: String
    public var mriType: MRIType
    /// Where the MRI type came from: "folder" or "series_description".
    public var mriTypeSource: String
    /// The series' folder, relative to the study folder ("" for the study folder itself).
    public var sourceFolder: String
    /// Stored array shape (S, H, W) = (slices, rows, columns).
    public var slices: Int
    public var rows: Int
    public var columns: Int
    /// Slices decoded, and those left after the empty-slice drop (before the crop).
    public var slicesTotal: Int
    public var slicesNonempty: Int
    /// InstanceNumber of each stored slice, in order (repeated for the frames of a multi-frame file).
    public var instanceNumbers: [Int?]
    public var transferSyntaxes: [TransferSyntax]
    public var orderCheck: OrderCheck
    /// Raw (rescaled) value range over the kept slices: the normalisation bounds.
    public var intensity: IntensityRange
    public var crop: ProjectionCrop
    public var geometry: SeriesGeometry
    /// File-level problems in this series (files skipped).
    public var errors: [IngestIssue]

    enum CodingKeys: String, CodingKey {
        case schema, slices, rows, columns, intensity, crop, geometry, errors
        case patientID = "patient_id"
        case studyInstanceUID = "study_instance_uid"
        case seriesInstanceUID = "series_instance_uid"
        case seriesDescription = "series_description"
        case mriType = "mri_type"
        case mriTypeSource = "mri_type_source"
        case sourceFolder = "source_folder"
        case slicesTotal = "slices_total"
        case slicesNonempty = "slices_nonempty"
        case instanceNumbers = "instance_numbers"
        case transferSyntaxes = "transfer_syntaxes"
        case orderCheck = "order_check"
    }
}

/// A series directory as ingest writes it: series.json, image_float.npy (float32 (S,H,W), 0–255) and
/// image_uint8.npy (uint8 (S,H,W), its truncation). Later stages add their own files beside these.
public struct IngestedSeries: Sendable {
    public static let metadataFileName = "series.json"
    public static let floatImageFileName = "image_float.npy"
    public static let uint8ImageFileName = "image_uint8.npy"

    public var metadata: SeriesMetadata
    /// Normalised slices: the segmentation input.
    public var image: SeriesVolume<Float>
    /// `image` truncated to uint8: the classifier's channel 0.
    public var imageUInt8: SeriesVolume<UInt8>

    public init(metadata: SeriesMetadata, image: SeriesVolume<Float>, imageUInt8: SeriesVolume<UInt8>) {
        self.metadata = metadata
        self.image = image
        self.imageUInt8 = imageUInt8
    }

    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try NpyArray(shape: image.shape, values: .float32(image.values))
            .write(to: directory.appendingPathComponent(Self.floatImageFileName))
        try NpyArray(shape: imageUInt8.shape, values: .uint8(imageUInt8.values))
            .write(to: directory.appendingPathComponent(Self.uint8ImageFileName))
        // Metadata last: its presence means the arrays beside it are complete.
        try writeJSON(metadata, to: directory.appendingPathComponent(Self.metadataFileName))
    }

    public static func readMetadata(from directory: URL) throws -> SeriesMetadata {
        try JSONDecoder().decode(SeriesMetadata.self,
                                 from: Data(contentsOf: directory.appendingPathComponent(metadataFileName)))
    }

    /// Reads series.json and both arrays, checking their shapes against it.
    public static func read(from directory: URL) throws -> IngestedSeries {
        let metadata = try readMetadata(from: directory)
        return IngestedSeries(metadata: metadata, image: try readFloatImage(from: directory, metadata: metadata),
                              imageUInt8: try readUInt8Image(from: directory, metadata: metadata))
    }

    /// image_float.npy alone (what segmentation needs), checked against `metadata`'s shape.
    public static func readFloatImage(from directory: URL, metadata: SeriesMetadata) throws -> SeriesVolume<Float> {
        try readVolume(directory.appendingPathComponent(floatImageFileName), metadata: metadata, type: "float32") {
            $0.float32Values
        }
    }

    /// image_uint8.npy alone (what classification needs), checked against `metadata`'s shape.
    public static func readUInt8Image(from directory: URL, metadata: SeriesMetadata) throws -> SeriesVolume<UInt8> {
        try readVolume(directory.appendingPathComponent(uint8ImageFileName), metadata: metadata, type: "uint8") {
            $0.uint8Values
        }
    }

    private static func readVolume<T>(_ url: URL, metadata: SeriesMetadata, type: String,
                                      values: (NpyArray) -> [T]?) throws -> SeriesVolume<T> {
        let shape = [metadata.slices, metadata.rows, metadata.columns]
        let array = try NpyArray(contentsOf: url)
        guard array.shape == shape else {
            throw SeriesDirectoryError.shapeMismatch(path: url.path, shape: array.shape, expected: shape)
        }
        guard let values = values(array) else { throw SeriesDirectoryError.wrongType(path: url.path, expected: type) }
        return SeriesVolume(slices: shape[0], rows: shape[1], columns: shape[2], values: values)
    }
}

public enum SeriesDirectoryError: Error, Equatable, Sendable, CustomStringConvertible {
    case shapeMismatch(path: String, shape: [Int], expected: [Int])
    case wrongType(path: String, expected: String)

    public var description: String {
        switch self {
        case .wrongType(let path, let expected): "\(path): not a \(expected) array"
        case .shapeMismatch(let path, let shape, let expected):
            "\(path): array shape \(shape) disagrees with series.json \(expected)"
        }
    }
}

/// `study.json`: the study's identity, its series directories and every recorded problem.
public struct StudyMetadata: Codable, Sendable, Equatable {
    public struct SeriesEntry: Codable, Sendable, Equatable {
        /// Sub-directory of the study output directory.
        public var dir: String
        public var mriType: MRIType
        public var seriesInstanceUID: String
        public var slices: Int

        enum CodingKeys: String, CodingKey {
            case dir, slices
            case mriType = "mri_type"
            case seriesInstanceUID = "series_instance_uid"
        }
    }

    public var schema = 1
    public var patientID: String
    public var studyInstanceUID: String
    public var series: [SeriesEntry]
    /// Files and series that could not be used.
    public var errors: [IngestIssue]
    /// Things that were handled but deserve a look (a second series in a folder, an order disagreement).
    public var warnings: [IngestIssue]

    enum CodingKeys: String, CodingKey {
        case schema, series, errors, warnings
        case patientID = "patient_id"
        case studyInstanceUID = "study_instance_uid"
    }
}

/// The ingest stage's output for one study (written by `StudyIngestor.ingest(study:into:)`).
public struct IngestedStudy: Sendable {
    public static let metadataFileName = "study.json"

    public var metadata: StudyMetadata
    /// In the order of `metadata.series`.
    public var series: [IngestedSeries]

    public init(metadata: StudyMetadata, series: [IngestedSeries]) {
        self.metadata = metadata
        self.series = series
    }

    public static func readMetadata(from directory: URL) throws -> StudyMetadata {
        try JSONDecoder().decode(StudyMetadata.self,
                                 from: Data(contentsOf: directory.appendingPathComponent(metadataFileName)))
    }

    /// Reads study.json and every series directory it lists.
    public static func read(from directory: URL) throws -> IngestedStudy {
        let metadata = try readMetadata(from: directory)
        let series = try metadata.series.map { try IngestedSeries.read(from: directory.appendingPathComponent($0.dir)) }
        return IngestedStudy(metadata: metadata, series: series)
    }
}

func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try encoder.encode(value).write(to: url, options: .atomic)
}
