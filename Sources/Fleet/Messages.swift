import Crypto
import Foundation

/// The JSON bodies that travel on the fleet's queues. Every body carries `schema` and `kind`; decoding is strict:
/// an unknown schema, a wrong kind or a missing field is a `MessageError`, which workers treat as permanent.
public enum MessageSchema {
    public static let version = 1
}

public enum MessageError: Error, CustomStringConvertible, Equatable {
    case notJSON(String)
    case unknownSchema(Int)
    case wrongKind(expected: String, found: String)
    case missingField(String)
    case invalidField(String, String)

    public var description: String {
        switch self {
        case .notJSON(let detail): return "message body is not valid JSON: \(detail)"
        case .unknownSchema(let version):
            return "unknown message schema \(version) (this worker reads \(MessageSchema.version))"
        case .wrongKind(let expected, let found): return "message kind is '\(found)', this queue takes '\(expected)'"
        case .missingField(let path): return "message field '\(path)' is missing"
        case .invalidField(let path, let detail): return "message field '\(path)' is invalid: \(detail)"
        }
    }
}

/// A message type that travels on one queue.
public protocol FleetMessage: Codable, Sendable {
    /// The `kind` field's value for this type.
    static var messageKind: String { get }
    var schema: Int { get }
    var kind: String { get }
    var jobId: String { get }
    /// Checks beyond field presence (non-empty identifiers, fields required by a status).
    func validate() throws(MessageError)
}

extension FleetMessage {
    public func validate() throws(MessageError) {}
}

public enum MessageCodec {
    public static func encode<M: FleetMessage>(_ message: M) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        // Plain structs of strings and numbers always encode; an empty body would be rejected downstream.
        return (try? encoder.encode(message)) ?? Data()
    }

    /// Decodes strictly: schema and kind first (so that a message of a future schema says so), then the fields.
    public static func decode<M: FleetMessage>(_ type: M.Type, from body: Data) throws(MessageError) -> M {
        try MessageLimits.check(body)
        let header: Header
        do {
            header = try decoder.decode(Header.self, from: body)
        } catch {
            throw describe(error)
        }
        guard header.schema == MessageSchema.version else { throw .unknownSchema(header.schema) }
        guard header.kind == M.messageKind else { throw .wrongKind(expected: M.messageKind, found: header.kind) }
        let message: M
        do {
            message = try decoder.decode(M.self, from: body)
        } catch {
            throw describe(error)
        }
        guard !message.jobId.isEmpty else { throw .invalidField("job_id", "empty") }
        try message.validate()
        return message
    }

    private struct Header: Decodable {
        var schema: Int
        var kind: String
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    private static func describe(_ error: any Error) -> MessageError {
        guard let decodingError = error as? DecodingError else { return .notJSON("\(error)") }
        switch decodingError {
        case .keyNotFound(let key, let context):
            return .missingField(path(context.codingPath + [key]))
        case .valueNotFound(_, let context):
            return .missingField(path(context.codingPath))
        case .typeMismatch(let type, let context):
            return .invalidField(path(context.codingPath), "expected \(type)")
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? .notJSON(context.debugDescription)
                : .invalidField(path(context.codingPath), context.debugDescription)
        @unknown default:
            return .notJSON("\(error)")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { key in key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue) }.joined(separator: ".")
    }

    private static func snakeCase(_ camel: String) -> String {
        var result = ""
        for character in camel {
            if character.isUppercase, !result.isEmpty { result += "_" }
            result += character.lowercased()
        }
        return result
    }
}

/// Job identifiers are deterministic: the same subject through the same stage after the same weights always gets the
/// same id, so a redelivered or re-enqueued job writes the same artifact keys and the reporter's upserts collapse.
public enum JobID {
    public static func derive(stage: String, subject: String, weights: [String] = []) -> String {
        let text = (["mgmt-job/1", stage, subject] + weights).joined(separator: "\n")
        return sha256Hex(Data(text.utf8))
    }
}

public func sha256Hex(_ data: some DataProtocol) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
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

/// Which series a job is about. No patient names: the patient id is the export's identifier (e.g. BraTS21ID).
public struct SeriesIdentity: Codable, Equatable, Sendable {
    public var patientId: String
    public var studyInstanceUid: String
    public var seriesInstanceUid: String
    public var mriType: String

    public init(patientId: String, studyInstanceUid: String, seriesInstanceUid: String, mriType: String) {
        self.patientId = patientId
        self.studyInstanceUid = studyInstanceUid
        self.seriesInstanceUid = seriesInstanceUid
        self.mriType = mriType
    }
}

/// `studies` queue: one study folder of a scanner export.
public struct StudyJob: FleetMessage, Equatable {
    public static let messageKind = "study"
    public var schema = MessageSchema.version
    public var kind: String = StudyJob.messageKind
    public var jobId: String
    /// The study folder, as the workers see it (a shared volume in a fleet).
    public var studyPath: String
    public var enqueuedAt: String

    public init(studyPath: String, enqueuedAt: Date = Date()) {
        self.jobId = JobID.derive(stage: "ingest", subject: studyPath)
        self.studyPath = studyPath
        self.enqueuedAt = Timestamp.string(enqueuedAt)
    }

    public func validate() throws(MessageError) {
        if studyPath.isEmpty { throw .invalidField("study_path", "empty") }
    }
}

/// `segment` queue: one ingested series; `inputs` maps series-directory file names to artifacts.
public struct SegmentJob: FleetMessage, Equatable {
    public static let messageKind = "segment"
    public var schema = MessageSchema.version
    public var kind: String = SegmentJob.messageKind
    public var jobId: String
    public var series: SeriesIdentity
    public var inputs: [String: ArtifactRef]

    public init(series: SeriesIdentity, inputs: [String: ArtifactRef]) {
        self.jobId = JobID.derive(stage: "segment", subject: series.seriesInstanceUid)
        self.series = series
        self.inputs = inputs
    }

    public func validate() throws(MessageError) {
        try validateIdentity(series)
        try validateInputNames(inputs)
    }
}

/// `classify` queue: a segmented series. The job id includes the segmentation weights that made the masks.
public struct ClassifyJob: FleetMessage, Equatable {
    public static let messageKind = "classify"
    public var schema = MessageSchema.version
    public var kind: String = ClassifyJob.messageKind
    public var jobId: String
    public var series: SeriesIdentity
    public var inputs: [String: ArtifactRef]
    public var segmentationWeightsSha256: String

    public init(series: SeriesIdentity, inputs: [String: ArtifactRef], segmentationWeightsSha256: String) {
        self.jobId = JobID.derive(
            stage: "classify", subject: series.seriesInstanceUid, weights: [segmentationWeightsSha256])
        self.series = series
        self.inputs = inputs
        self.segmentationWeightsSha256 = segmentationWeightsSha256
    }

    public func validate() throws(MessageError) {
        try validateIdentity(series)
        try validateInputNames(inputs)
        if segmentationWeightsSha256.isEmpty { throw .invalidField("segmentation_weights_sha256", "empty") }
    }
}

/// What happened to a job; the reporter turns these into rows.
public enum JobStatus: String, Codable, Sendable {
    case ingested, segmented, classified, failed
}

/// One series as ingest found it (for the `series` table).
public struct SeriesSummary: Codable, Equatable, Sendable {
    public var seriesInstanceUid: String
    public var mriType: String
    public var slicesTotal: Int
    public var slicesKept: Int

    public init(seriesInstanceUid: String, mriType: String, slicesTotal: Int, slicesKept: Int) {
        self.seriesInstanceUid = seriesInstanceUid
        self.mriType = mriType
        self.slicesTotal = slicesTotal
        self.slicesKept = slicesKept
    }
}

/// A classifier chunk's result.
public struct ChunkResult: Codable, Equatable, Sendable {
    public var index: Int
    /// InstanceNumber of the chunk's first slice (nil when the series had none).
    public var firstInstance: Int?
    public var probability: Double

    public init(index: Int, firstInstance: Int?, probability: Double) {
        self.index = index
        self.firstInstance = firstInstance
        self.probability = probability
    }
}

/// A classified series: its chunks and the weights that produced them.
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

    public init(weightsSha256: String, segmentationWeightsSha256: String, slicesSelected: Int,
                chunks: [ChunkResult], noChunksReason: String?, preview: ArtifactRef? = nil) {
        self.weightsSha256 = weightsSha256
        self.segmentationWeightsSha256 = segmentationWeightsSha256
        self.slicesSelected = slicesSelected
        self.chunks = chunks
        self.noChunksReason = noChunksReason
        self.preview = preview
    }
}

/// `report` queue: a stage's status event for a study (ingest) or a series (segment, classify).
public struct StatusEvent: FleetMessage, Equatable {
    public static let messageKind = "status"
    public var schema = MessageSchema.version
    public var kind: String = StatusEvent.messageKind
    /// The job this event is about (the consumed message's job id).
    public var jobId: String
    public var stage: String
    public var status: JobStatus
    public var occurredAt: String
    /// Where the study came from (its folder), for failures before any DICOM identifier is known.
    public var source: String?
    public var patientId: String?
    public var studyInstanceUid: String?
    /// Set for series-level events.
    public var series: SeriesIdentity?
    /// Set by ingest: the study's series.
    public var studySeries: [SeriesSummary]?
    /// Set by ingest: series or files it could not use (the study still goes on).
    public var warnings: [String]?
    /// Set with `failed`.
    public var error: String?
    /// The sha256 of the weights the stage's model ran with (segment, classify).
    public var weightsSha256: String?
    /// Set with `classified`.
    public var classification: SeriesResult?

    public init(jobId: String, stage: String, status: JobStatus, occurredAt: Date = Date(), source: String? = nil,
                patientId: String? = nil, studyInstanceUid: String? = nil, series: SeriesIdentity? = nil,
                studySeries: [SeriesSummary]? = nil, warnings: [String]? = nil, error: String? = nil,
                weightsSha256: String? = nil, classification: SeriesResult? = nil) {
        self.jobId = jobId
        self.stage = stage
        self.status = status
        self.occurredAt = Timestamp.string(occurredAt)
        self.source = source
        self.patientId = patientId ?? series?.patientId
        self.studyInstanceUid = studyInstanceUid ?? series?.studyInstanceUid
        self.series = series
        self.studySeries = studySeries
        self.warnings = warnings
        self.error = error
        self.weightsSha256 = weightsSha256 ?? classification?.weightsSha256
        self.classification = classification
    }

    public func validate() throws(MessageError) {
        if let series { try validateIdentity(series) }
        switch status {
        case .failed:
            if error?.isEmpty ?? true { throw .missingField("error") }
        case .ingested:
            if studySeries == nil { throw .missingField("study_series") }
            if studyInstanceUid == nil { throw .missingField("study_instance_uid") }
            if patientId == nil { throw .missingField("patient_id") }
        case .segmented:
            if series == nil { throw .missingField("series") }
            if weightsSha256 == nil { throw .missingField("weights_sha256") }
        case .classified:
            if series == nil { throw .missingField("series") }
            guard let classification else { throw .missingField("classification") }
            if classification.chunks.isEmpty, classification.noChunksReason == nil {
                throw .missingField("classification.no_chunks_reason")
            }
            if let bad = classification.chunks.first(where: { !(0...1).contains($0.probability) }) {
                throw .invalidField("classification.chunks", "probability \(bad.probability) outside [0, 1]")
            }
        }
    }
}

/// Input names become file names in a job's workspace: plain names only.
private func validateInputNames(_ inputs: [String: ArtifactRef]) throws(MessageError) {
    for name in inputs.keys where name.isEmpty || name.hasPrefix(".") || name.contains("/") {
        throw .invalidField("inputs", "'\(name)' is not a plain file name")
    }
}

private func validateIdentity(_ series: SeriesIdentity) throws(MessageError) {
    if series.seriesInstanceUid.isEmpty { throw .invalidField("series.series_instance_uid", "empty") }
    if series.studyInstanceUid.isEmpty { throw .invalidField("series.study_instance_uid", "empty") }
    if series.patientId.isEmpty { throw .invalidField("series.patient_id", "empty") }
}

/// ISO 8601 with milliseconds in UTC: the one timestamp format in messages (PostgreSQL parses it as timestamptz).
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
