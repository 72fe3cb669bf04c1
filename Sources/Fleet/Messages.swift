import Crypto
import Domain
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

/// `classify3d` queue: an ingested series' raw volume for the 3D classifier (`volume.npy` and `series.json`).
public struct VolumeClassifyJob: FleetMessage, Equatable {
    public static let messageKind = "classify3d"
    public var schema = MessageSchema.version
    public var kind: String = VolumeClassifyJob.messageKind
    public var jobId: String
    public var series: SeriesIdentity
    public var inputs: [String: ArtifactRef]

    public init(series: SeriesIdentity, inputs: [String: ArtifactRef]) {
        self.jobId = JobID.derive(stage: "classify3d", subject: series.seriesInstanceUid)
        self.series = series
        self.inputs = inputs
    }

    public func validate() throws(MessageError) {
        try validateIdentity(series)
        try validateInputNames(inputs)
    }
}

/// `deliver` queue: a study whose result is complete, published by the reporter for the DICOM edge
/// (`ingest deliver`), which writes one SEG per segmented series and one SR for the study, stores them and sends
/// them to the PACS. It carries what the reporter already knows: artifact refs, weights and probabilities.
public struct DeliverJob: FleetMessage, Equatable {
    public static let messageKind = "deliver"
    public var schema = MessageSchema.version
    public var kind: String = DeliverJob.messageKind
    public var jobId: String
    public var patientId: String
    public var studyInstanceUid: String
    /// The patient's probability; nil when no MRI type produced chunks (`noResultReason` says why).
    public var patientProbability: Double?
    public var noResultReason: String?
    /// The study's classified series.
    public var series: [DeliverableSeries]

    /// The job id follows the study and every weight that shaped its objects: the same result gives the same id.
    public init(patientId: String, studyInstanceUid: String, patientProbability: Double?, noResultReason: String?,
                series: [DeliverableSeries]) {
        self.jobId = JobID.derive(stage: "deliver", subject: studyInstanceUid,
                                  weights: series.flatMap { [$0.segmentationWeightsSha256, $0.classifierWeightsSha256] }.sorted())
        self.patientId = patientId
        self.studyInstanceUid = studyInstanceUid
        self.patientProbability = patientProbability
        self.noResultReason = noResultReason
        self.series = series
    }

    public func validate() throws(MessageError) {
        if patientId.isEmpty { throw .invalidField("patient_id", "empty") }
        if studyInstanceUid.isEmpty { throw .invalidField("study_instance_uid", "empty") }
        if let patientProbability, !(0...1).contains(patientProbability) {
            throw .invalidField("patient_probability", "\(patientProbability) outside [0, 1]")
        }
        for (index, series) in self.series.enumerated() {
            if series.seriesInstanceUid.isEmpty { throw .invalidField("series[\(index)].series_instance_uid", "empty") }
            if let probability = series.probability, !(0...1).contains(probability) {
                throw .invalidField("series[\(index)].probability", "\(probability) outside [0, 1]")
            }
            try validateInputNames(series.inputs)
        }
    }
}

/// The DICOM objects the DICOM edge wrote for a study, and what became of their delivery.
public struct DicomDelivery: Codable, Equatable, Sendable {
    /// One written object, stored in the artifact store.
    public struct Object: Codable, Equatable, Sendable {
        public var kind: DicomObjectKind
        public var seriesInstanceUid: String
        public var sopInstanceUid: String
        /// The segmented series, for a SEG.
        public var sourceSeriesInstanceUid: String?
        public var artifact: ArtifactRef

        public init(kind: DicomObjectKind, seriesInstanceUid: String, sopInstanceUid: String, sourceSeriesInstanceUid: String?,
                    artifact: ArtifactRef) {
            self.kind = kind
            self.seriesInstanceUid = seriesInstanceUid
            self.sopInstanceUid = sopInstanceUid
            self.sourceSeriesInstanceUid = sourceSeriesInstanceUid
            self.artifact = artifact
        }
    }

    public var patientId: String
    public var studyInstanceUid: String
    public var objects: [Object]
    /// `AE@host:port` the objects were sent to; nil when no destination is configured (objects only stored).
    public var destination: String?
    /// C-STORE attempts made (0 without a destination).
    public var attempts: Int
    /// Series left without a SEG and why (e.g. a multi-frame source); the other objects were still delivered.
    public var warnings: [String]

    public init(patientId: String, studyInstanceUid: String, objects: [Object], destination: String?, attempts: Int,
                warnings: [String]) {
        self.patientId = patientId
        self.studyInstanceUid = studyInstanceUid
        self.objects = objects
        self.destination = destination
        self.attempts = attempts
        self.warnings = warnings
    }
}

/// `report` queue: a stage's status event for a study (ingest, deliver) or a series (segment, classify,
/// classify3d). Each status carries exactly what it has (`Outcome`); on the wire the fields stay flat beside
/// `status`, as in schema 1: `source`, `patient_id`, `study_instance_uid`, `series`, `study_series`, `warnings`,
/// `error`, `weights_sha256`, `classification`, `delivery`; the 3D classifier's `classified` adds `model` and
/// `volume_classification`.
public struct StatusEvent: FleetMessage, Equatable {
    public static let messageKind = "status"
    public var schema = MessageSchema.version
    public var kind: String = StatusEvent.messageKind
    /// The job this event is about (the consumed message's job id).
    public var jobId: String
    public var stage: String
    public var occurredAt: String
    public var outcome: Outcome

    public enum Outcome: Equatable, Sendable {
        /// Ingest read a study and stored its series.
        case ingested(Study)
        /// A series' masks were made with the segmentation weights of this sha256.
        case segmented(SeriesIdentity, weightsSha256: String)
        case classified(SeriesIdentity, SeriesResult)
        /// The 3D classifier's probability for a series' whole volume.
        case volumeClassified(SeriesIdentity, VolumeResult)
        case failed(Subject, error: String)
        /// A study's DICOM objects were written and stored, and sent when a destination is configured.
        case delivered(DicomDelivery)
        /// Delivering a study's DICOM objects gave up; what was written stays stored (`reporter resend`). The
        /// study's prediction is unaffected: delivery has its own status.
        case deliveryFailed(DicomDelivery, error: String)

        public var status: String {
            switch self {
            case .ingested: "ingested"
            case .segmented: "segmented"
            case .classified, .volumeClassified: "classified"
            case .failed: "failed"
            case .delivered: "delivered"
            case .deliveryFailed: "delivery_failed"
            }
        }
    }

    /// What ingest found in a study folder.
    public struct Study: Equatable, Sendable {
        /// The study folder (as the workers see it).
        public var source: String
        public var patientId: String
        public var studyInstanceUid: String
        public var series: [SeriesSummary]
        /// Series or files ingest could not use (the study still goes on).
        public var warnings: [String]

        public init(source: String, patientId: String, studyInstanceUid: String, series: [SeriesSummary],
                    warnings: [String]) {
            self.source = source
            self.patientId = patientId
            self.studyInstanceUid = studyInstanceUid
            self.series = series
            self.warnings = warnings
        }
    }

    /// What a failure is about.
    public enum Subject: Equatable, Sendable {
        /// A study folder, before any DICOM identifier is known.
        case studyFolder(String)
        /// A study whose identifiers are known.
        case study(patientId: String, studyInstanceUid: String, source: String?)
        case series(SeriesIdentity)
    }

    public init(jobId: String, stage: String, occurredAt: Date = Date(), _ outcome: Outcome) {
        self.jobId = jobId
        self.stage = stage
        self.occurredAt = Timestamp.string(occurredAt)
        self.outcome = outcome
    }

    // Identifiers whichever the status, for failure rows and logs.

    public var series: SeriesIdentity? {
        switch outcome {
        case .segmented(let series, _), .classified(let series, _), .volumeClassified(let series, _),
            .failed(.series(let series), _): series
        case .ingested, .failed, .delivered, .deliveryFailed: nil
        }
    }

    public var patientId: String? {
        switch outcome {
        case .ingested(let study): study.patientId
        case .failed(.study(let patientId, _, _), _): patientId
        case .failed(.studyFolder, _): nil
        case .segmented, .classified, .volumeClassified, .failed(.series, _): series?.patientId
        case .delivered(let delivery), .deliveryFailed(let delivery, _): delivery.patientId
        }
    }

    public var studyInstanceUid: String? {
        switch outcome {
        case .ingested(let study): study.studyInstanceUid
        case .failed(.study(_, let studyInstanceUid, _), _): studyInstanceUid
        case .failed(.studyFolder, _): nil
        case .segmented, .classified, .volumeClassified, .failed(.series, _): series?.studyInstanceUid
        case .delivered(let delivery), .deliveryFailed(let delivery, _): delivery.studyInstanceUid
        }
    }

    public var source: String? {
        switch outcome {
        case .ingested(let study): study.source
        case .failed(.studyFolder(let source), _): source
        case .failed(.study(_, _, let source), _): source
        case .segmented, .classified, .volumeClassified, .failed(.series, _), .delivered, .deliveryFailed: nil
        }
    }

    public func validate() throws(MessageError) {
        if let series { try validateIdentity(series) }
        switch outcome {
        case .failed(_, let error), .deliveryFailed(_, let error):
            if error.isEmpty { throw .missingField("error") }
        case .classified(_, let result):
            if result.chunks.isEmpty, result.noChunksReason == nil {
                throw .missingField("classification.no_chunks_reason")
            }
            if let bad = result.chunks.first(where: { !(0...1).contains($0.probability) }) {
                throw .invalidField("classification.chunks", "probability \(bad.probability) outside [0, 1]")
            }
        case .volumeClassified(_, let result):
            if !(0...1).contains(result.probability) {
                throw .invalidField("volume_classification.probability", "\(result.probability) outside [0, 1]")
            }
        case .ingested, .segmented, .delivered:
            break
        }
    }

    private enum CodingKeys: String, CodingKey {
        case schema, kind, jobId, stage, status, occurredAt, source, patientId, studyInstanceUid, series, studySeries
        case warnings, error, weightsSha256, classification, model, volumeClassification, delivery
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(Int.self, forKey: .schema)
        kind = try c.decode(String.self, forKey: .kind)
        jobId = try c.decode(String.self, forKey: .jobId)
        stage = try c.decode(String.self, forKey: .stage)
        occurredAt = try c.decode(String.self, forKey: .occurredAt)
        let status = try c.decode(String.self, forKey: .status)
        switch status {
        case "ingested":
            outcome = .ingested(Study(
                source: try c.decode(String.self, forKey: .source),
                patientId: try c.decode(String.self, forKey: .patientId),
                studyInstanceUid: try c.decode(String.self, forKey: .studyInstanceUid),
                series: try c.decode([SeriesSummary].self, forKey: .studySeries),
                warnings: try c.decodeIfPresent([String].self, forKey: .warnings) ?? []))
        case "segmented":
            outcome = .segmented(try c.decode(SeriesIdentity.self, forKey: .series),
                                 weightsSha256: try c.decode(String.self, forKey: .weightsSha256))
        case "classified":
            switch try c.decodeIfPresent(ClassifierModel.self, forKey: .model) ?? .nfnetLSTM {
            case .nfnetLSTM:
                outcome = .classified(try c.decode(SeriesIdentity.self, forKey: .series),
                                      try c.decode(SeriesResult.self, forKey: .classification))
            case .resnet3d:
                outcome = .volumeClassified(try c.decode(SeriesIdentity.self, forKey: .series),
                                            try c.decode(VolumeResult.self, forKey: .volumeClassification))
            }
        case "failed":
            let subject: Subject
            if let series = try c.decodeIfPresent(SeriesIdentity.self, forKey: .series) {
                subject = .series(series)
            } else if let patientId = try c.decodeIfPresent(String.self, forKey: .patientId),
                      let studyInstanceUid = try c.decodeIfPresent(String.self, forKey: .studyInstanceUid) {
                subject = .study(patientId: patientId, studyInstanceUid: studyInstanceUid,
                                 source: try c.decodeIfPresent(String.self, forKey: .source))
            } else {
                subject = .studyFolder(try c.decode(String.self, forKey: .source))
            }
            outcome = .failed(subject, error: try c.decodeIfPresent(String.self, forKey: .error) ?? "")
        case "delivered":
            outcome = .delivered(try c.decode(DicomDelivery.self, forKey: .delivery))
        case "delivery_failed":
            outcome = .deliveryFailed(try c.decode(DicomDelivery.self, forKey: .delivery),
                                      error: try c.decodeIfPresent(String.self, forKey: .error) ?? "")
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .status, in: c, debugDescription: "unknown status '\(status)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(kind, forKey: .kind)
        try c.encode(jobId, forKey: .jobId)
        try c.encode(stage, forKey: .stage)
        try c.encode(occurredAt, forKey: .occurredAt)
        try c.encode(outcome.status, forKey: .status)
        // The identifiers every event of schema 1 carries beside its payload.
        try c.encodeIfPresent(source, forKey: .source)
        try c.encodeIfPresent(patientId, forKey: .patientId)
        try c.encodeIfPresent(studyInstanceUid, forKey: .studyInstanceUid)
        try c.encodeIfPresent(series, forKey: .series)
        switch outcome {
        case .ingested(let study):
            try c.encode(study.series, forKey: .studySeries)
            if !study.warnings.isEmpty { try c.encode(study.warnings, forKey: .warnings) }
        case .segmented(_, let weightsSha256):
            try c.encode(weightsSha256, forKey: .weightsSha256)
        case .classified(_, let result):
            try c.encode(result.weightsSha256, forKey: .weightsSha256)
            try c.encode(result, forKey: .classification)
        case .volumeClassified(_, let result):
            try c.encode(ClassifierModel.resnet3d, forKey: .model)
            try c.encode(result.weightsSha256, forKey: .weightsSha256)
            try c.encode(result, forKey: .volumeClassification)
        case .failed(_, let error):
            try c.encode(error, forKey: .error)
        case .delivered(let delivery):
            try c.encode(delivery, forKey: .delivery)
        case .deliveryFailed(let delivery, let error):
            try c.encode(delivery, forKey: .delivery)
            try c.encode(error, forKey: .error)
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
