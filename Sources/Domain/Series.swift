/// The value types every layer shares: the stages, the wire messages, the results tables and the offline reports
/// all speak of a series, its chunks and its result in these words. Property names are camel case words
/// (`patientId`, `seriesInstanceUid`, `weightsSha256`) so that JSON's snake case round-trips through the
/// encoders' key strategies without explicit coding keys.

/// Which series something is about. No patient names: the patient id is the export's identifier (e.g. BraTS21ID).
public struct SeriesIdentity: Codable, Hashable, Sendable {
    public var patientId: String
    public var studyInstanceUid: String
    public var seriesInstanceUid: String
    /// An `MRIType` raw value; kept as text so that a message with an unknown type still names its series when
    /// it is refused.
    public var mriType: String

    public init(patientId: String, studyInstanceUid: String, seriesInstanceUid: String, mriType: String) {
        self.patientId = patientId
        self.studyInstanceUid = studyInstanceUid
        self.seriesInstanceUid = seriesInstanceUid
        self.mriType = mriType
    }
}

/// One series as ingest found it: slices decoded and slices kept.
public struct SeriesSummary: Codable, Equatable, Sendable {
    public var seriesInstanceUid: String
    public var mriType: String
    public var slicesTotal: Int
    public var slicesKept: Int
    /// The classifiers that will report on this series; absent (messages from before the 3D model) means
    /// `[.nfnetLSTM]`. A study is done when every series' models have reported or failed.
    public var models: [ClassifierModel]?

    public init(seriesInstanceUid: String, mriType: String, slicesTotal: Int, slicesKept: Int,
                models: [ClassifierModel]? = nil) {
        self.seriesInstanceUid = seriesInstanceUid
        self.mriType = mriType
        self.slicesTotal = slicesTotal
        self.slicesKept = slicesKept
        self.models = models
    }

    /// `models`, with the default of messages that have none.
    public var expectedModels: [ClassifierModel] { models ?? [.nfnetLSTM] }
}

/// One classifier chunk's result.
public struct ChunkResult: Codable, Equatable, Sendable {
    public var index: Int
    /// InstanceNumber of the chunk's first slice (nil when that slice had none).
    public var firstInstance: Int?
    public var probability: Double

    public init(index: Int, firstInstance: Int?, probability: Double) {
        self.index = index
        self.firstInstance = firstInstance
        self.probability = probability
    }
}

/// A classified series as the fleet reports it: its chunks and the weights that produced them.
public struct SeriesResult: Codable, Equatable, Sendable {
    public var weightsSha256: String
    public var segmentationWeightsSha256: String
    /// Slices the tumour selection kept (the chunks are taken over these).
    public var slicesSelected: Int
    public var chunks: [ChunkResult]
    /// Why there are no chunks, when `chunks` is empty.
    public var noChunksReason: String?
    /// The series' preview PNG in the artifact store (absent in messages from before previews existed).
    public var preview: ArtifactRef?
    /// The series-directory files the series' DICOM objects are made from (`series.json`, `masks.npy`), by file
    /// name (absent in messages from before DICOM output).
    public var sources: [String: ArtifactRef]?

    public init(weightsSha256: String, segmentationWeightsSha256: String, slicesSelected: Int,
                chunks: [ChunkResult], noChunksReason: String?, preview: ArtifactRef? = nil,
                sources: [String: ArtifactRef]? = nil) {
        self.weightsSha256 = weightsSha256
        self.segmentationWeightsSha256 = segmentationWeightsSha256
        self.slicesSelected = slicesSelected
        self.chunks = chunks
        self.noChunksReason = noChunksReason
        self.preview = preview
        self.sources = sources
    }

    /// The series probability (`Aggregation.seriesProbability`).
    public var probability: Double? { Aggregation.seriesProbability(chunks) }
}

/// A series classified by the 3D model: one probability for the whole volume.
public struct VolumeResult: Codable, Equatable, Sendable {
    public var weightsSha256: String
    public var probability: Double
    /// Slices in the volume the model saw (every decodable slice).
    public var slices: Int

    public init(weightsSha256: String, probability: Double, slices: Int) {
        self.weightsSha256 = weightsSha256
        self.probability = probability
        self.slices = slices
    }
}

/// A file in the artifact store: its key and the sha256 its reader verifies.
public struct ArtifactRef: Codable, Equatable, Sendable {
    public var key: String
    public var sha256: String

    public init(key: String, sha256: String) {
        self.key = key
        self.sha256 = sha256
    }
}

/// A classified series as its DICOM objects need it: its files in the artifact store (`series.json`,
/// `masks.npy`), the weights behind its masks and probability, and its result.
public struct DeliverableSeries: Codable, Equatable, Sendable {
    public var seriesInstanceUid: String
    public var mriType: String
    /// By series-directory file name; empty when the series' messages predate DICOM output.
    public var inputs: [String: ArtifactRef]
    public var segmentationWeightsSha256: String
    public var classifierWeightsSha256: String
    /// nil when the series produced no chunks.
    public var probability: Double?
    public var chunkCount: Int

    public init(seriesInstanceUid: String, mriType: String, inputs: [String: ArtifactRef],
                segmentationWeightsSha256: String, classifierWeightsSha256: String, probability: Double?,
                chunkCount: Int) {
        self.seriesInstanceUid = seriesInstanceUid
        self.mriType = mriType
        self.inputs = inputs
        self.segmentationWeightsSha256 = segmentationWeightsSha256
        self.classifierWeightsSha256 = classifierWeightsSha256
        self.probability = probability
        self.chunkCount = chunkCount
    }
}
