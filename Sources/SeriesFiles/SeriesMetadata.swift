import Domain

/// One recorded problem: a file that could not be used, or a series that was rejected or needs attention.
/// `path` is relative to the study folder.
public struct IngestIssue: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var kind: String
    public var message: String
    public var path: String?
    public var seriesInstanceUid: String?

    public init(kind: String, message: String, path: String? = nil, seriesInstanceUid: String? = nil) {
        self.kind = kind
        self.message = message
        self.path = path
        self.seriesInstanceUid = seriesInstanceUid
    }

    public var description: String { "\(kind): \(message)" }

}

/// Geometry of the stored slices, in the stored order.
public struct SeriesGeometry: Codable, Sendable, Equatable {
    public var imageOrientationPatient: [Double]?
    public var pixelSpacing: [Double]?
    public var sliceThickness: Double?
    /// ImagePositionPatient of each stored slice (nil entries for slices without one).
    public var imagePositionPatient: [[Double]?]
    /// FrameOfReferenceUID of the series ("" when the source has none; nil in schema 1 documents).
    public var frameOfReferenceUid: String?

    public init(imageOrientationPatient: [Double]?, pixelSpacing: [Double]?, sliceThickness: Double?,
                imagePositionPatient: [[Double]?], frameOfReferenceUid: String?) {
        self.imageOrientationPatient = imageOrientationPatient
        self.pixelSpacing = pixelSpacing
        self.sliceThickness = sliceThickness
        self.imagePositionPatient = imagePositionPatient
        self.frameOfReferenceUid = frameOfReferenceUid
    }

}

/// The DICOM instance a stored slice was decoded from: what a derived object (a SEG frame) references.
public struct SliceSource: Codable, Sendable, Equatable {
    public var sopInstanceUid: String
    public var sopClassUid: String
    /// The 1-based frame of a multi-frame instance; nil for a single-frame one.
    public var frameNumber: Int?

    public init(sopInstanceUid: String, sopClassUid: String, frameNumber: Int?) {
        self.sopInstanceUid = sopInstanceUid
        self.sopClassUid = sopClassUid
        self.frameNumber = frameNumber
    }
}

/// The `schema` of series.json and study.json this code writes. Schema 2 added the slices' source instances
/// (`sliceSources`), the frame of reference and the study's attributes; schema 1 documents still read, with
/// those fields nil. A newer schema is refused with `SeriesDirectoryError.unknownSchema`.
public enum SeriesFilesSchema {
    public static let version = 2
}

/// `series.json`: what ingest knows about one series. Shapes refer to the stored arrays.
public struct SeriesMetadata: Codable, Sendable, Equatable {
    public var schema = SeriesFilesSchema.version
    public var patientId: String
    public var studyInstanceUid: String
    public var seriesInstanceUid: String
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
    /// The source instance of each stored slice, in order (nil in schema 1 documents).
    public var sliceSources: [SliceSource]?
    /// The patient and study attributes a derived object of this series copies (nil in schema 1 documents).
    /// They identify the patient: they stay in this file and never reach logs or messages.
    public var study: StudyAttributes?
    /// File-level problems in this series (files skipped).
    public var errors: [IngestIssue]
    /// `volume.npy`, the raw volume of the 3D classifier, when ingest kept it (nil otherwise).
    public var volume: RawVolumeRecord?

    public init(patientId: String, studyInstanceUid: String, seriesInstanceUid: String, seriesDescription: String,
                mriType: MRIType, mriTypeSource: String, sourceFolder: String, slices: Int, rows: Int, columns: Int,
                slicesTotal: Int, slicesNonempty: Int, instanceNumbers: [Int?], transferSyntaxes: [TransferSyntax],
                orderCheck: OrderCheck, intensity: IntensityRange, crop: ProjectionCrop, geometry: SeriesGeometry,
                sliceSources: [SliceSource]?, study: StudyAttributes?, errors: [IngestIssue], volume: RawVolumeRecord? = nil) {
        self.volume = volume
        self.patientId = patientId
        self.studyInstanceUid = studyInstanceUid
        self.seriesInstanceUid = seriesInstanceUid
        self.seriesDescription = seriesDescription
        self.mriType = mriType
        self.mriTypeSource = mriTypeSource
        self.sourceFolder = sourceFolder
        self.slices = slices
        self.rows = rows
        self.columns = columns
        self.slicesTotal = slicesTotal
        self.slicesNonempty = slicesNonempty
        self.instanceNumbers = instanceNumbers
        self.transferSyntaxes = transferSyntaxes
        self.orderCheck = orderCheck
        self.intensity = intensity
        self.crop = crop
        self.geometry = geometry
        self.sliceSources = sliceSources
        self.study = study
        self.errors = errors
    }
}

/// What `volume.npy` holds: every decodable slice of the series (none dropped as empty), in the stored order's
/// rule (InstanceNumber), values as pydicom's `apply_voi_lut(pixel_array, ds)` gives them, float32 (S, H, W).
public struct RawVolumeRecord: Codable, Sendable, Equatable {
    public var slices: Int
    public var rows: Int
    public var columns: Int
    /// InstanceNumber of each slice, in order.
    public var instanceNumbers: [Int?]

    public init(slices: Int, rows: Int, columns: Int, instanceNumbers: [Int?]) {
        self.slices = slices
        self.rows = rows
        self.columns = columns
        self.instanceNumbers = instanceNumbers
    }

    public var shape: [Int] { [slices, rows, columns] }
}

/// `study.json`: the study's identity, its series directories and every recorded problem.
public struct StudyMetadata: Codable, Sendable, Equatable {
    public struct SeriesEntry: Codable, Sendable, Equatable {
        /// Sub-directory of the study output directory.
        public var dir: String
        public var mriType: MRIType
        public var seriesInstanceUid: String
        public var slices: Int

        public init(dir: String, mriType: MRIType, seriesInstanceUid: String, slices: Int) {
            self.dir = dir
            self.mriType = mriType
            self.seriesInstanceUid = seriesInstanceUid
            self.slices = slices
        }

    }

    public var schema = SeriesFilesSchema.version
    public var patientId: String
    public var studyInstanceUid: String
    /// The attributes a derived object copies (nil in schema 1 documents). They identify the patient: they stay
    /// in this file and never reach logs or messages.
    public var attributes: StudyAttributes?
    public var series: [SeriesEntry]
    /// Files and series that could not be used.
    public var errors: [IngestIssue]
    /// Things that were handled but deserve a look (a second series in a folder, an order disagreement).
    public var warnings: [IngestIssue]

    public init(patientId: String, studyInstanceUid: String, attributes: StudyAttributes?, series: [SeriesEntry],
                errors: [IngestIssue], warnings: [IngestIssue]) {
        self.patientId = patientId
        self.studyInstanceUid = studyInstanceUid
        self.attributes = attributes
        self.series = series
        self.errors = errors
        self.warnings = warnings
    }

}
