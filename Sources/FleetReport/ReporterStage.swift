import Domain
import Fleet
import Foundation
import Logging
import ResultsStore

/// What the reporter consumes: status events from `report`, and whatever the broker dead-lettered.
public enum ReportInput: Sendable {
    case status(StatusEvent)
    /// A status event that came under another stage's report key (`ReporterStage.refusal`): recorded as a
    /// failure, never applied.
    case refused(StatusEvent, reason: String)
    case deadLetter(DeadLetter)
}

/// A dead-lettered message as the reporter records it. The reason is worked out again from the body with the same
/// strict decoder the worker used, so the failures table says why (not only that) a message was refused.
public struct DeadLetter: Sendable, Equatable {
    /// The work queue the message was dead-lettered from.
    public var queue: String
    /// The stage that consumes `queue`.
    public var stage: String
    /// The message's job id, or `body:<sha256>` when the body has none.
    public var jobId: String
    public var reason: String
    public var bodyExcerpt: String
    /// The routing key the message was published with (before the dead-lettering).
    public var routingKey: String
    public var patientId: String?
    public var studyInstanceUid: String?
    public var seriesInstanceUid: String?
    public var mriType: String?

    /// The series the message was about, when its body names one completely: that series then fails with the
    /// dead letter's reason, so its study still ends (`done` once every series is classified or failed).
    var series: SeriesIdentity? {
        guard let seriesInstanceUid, !seriesInstanceUid.isEmpty, let studyInstanceUid, !studyInstanceUid.isEmpty,
              let patientId, !patientId.isEmpty, let mriType, !mriType.isEmpty
        else { return nil }
        return SeriesIdentity(patientId: patientId, studyInstanceUid: studyInstanceUid,
                              seriesInstanceUid: seriesInstanceUid, mriType: mriType)
    }
}

/// The reporter: the only writer of the results database. One transaction per message, acked after commit (the
/// worker loop acks once `run` returns). Database outages are transient and retried until they pass: with the
/// database down no other message could be recorded either, and requeueing would only burn delivery limits.
public final class ReporterStage: Stage, @unchecked Sendable {
    public let name = "report"
    private let conninfo: String
    private let schema: String
    private let queues: QueueNames
    private let logger: Logger
    /// Touched only by the worker thread (the loop runs one job at a time).
    private var connection: PostgresConnection?
    private let refusedEvents = RefusedStatusEvents()

    public init(conninfo: String, schema: String = "public", queues: QueueNames, logger: Logger) {
        self.conninfo = conninfo
        self.schema = schema
        self.queues = queues
        self.logger = logger
    }

    public var retriesTransientFailuresUntilSuccess: Bool { true }

    /// Connects and applies the migrations (at start, so that a schema problem stops the reporter at once).
    public func prepare() throws {
        _ = try database()
    }

    public func consumedQueues(_ names: QueueNames) -> [String] {
        [names.report] + names.all.map(QueueNames.deadLetter(of:))
    }

    public func decode(_ message: IncomingMessage) throws(MessageError) -> ReportInput {
        if let source = queues.all.first(where: { QueueNames.deadLetter(of: $0) == message.queue }) {
            return .deadLetter(deadLetter(message, from: source))
        }
        let event = try MessageCodec.decode(StatusEvent.self, from: message.body)
        if let reason = refusal(of: event, routingKey: message.routingKey) { return .refused(event, reason: reason) }
        return .status(event)
    }

    /// The stage whose report key alone may carry `event`: `ingested` from ingest, `segmented` from segment,
    /// `classified` from classify, and `failed` from the stage it names (each stage reports its own failures).
    public static func sendingStage(of event: StatusEvent) -> String {
        switch event.outcome {
        case .ingested: "ingest"
        case .segmented: "segment"
        case .classified: "classify"
        case .failed: event.stage
        }
    }

    /// Why `event`, published with `routingKey`, is not believed; nil when the key is its sending stage's. The broker
    /// lets each stage's user write only its own report key, so the key says who sent it, whatever the body claims.
    public func refusal(of event: StatusEvent, routingKey: String) -> String? {
        let sender = queues.reportingStage(ofKey: routingKey)
        guard sender != Self.sendingStage(of: event) else { return nil }
        let origin = sender.map { "the \($0) role's key" } ?? "key '\(routingKey)', no reporting role's"
        return "status event '\(event.outcome.status)' arrived from \(origin); refused"
    }

    public func failurePublications(for job: ReportInput, reason: String) -> [Publication] { [] }

    public func run(_ job: ReportInput, context: StageContext) throws -> [Publication] {
        let connection = try database()
        let tables = ResultsTables(connection)
        do {
            try connection.withTransaction(role: "record message") { _ in
                switch job {
                case .status(let event): try record(event, in: tables)
                case .refused(let event, let reason): try record(event, refusedBecause: reason, in: tables)
                case .deadLetter(let letter): try record(letter, in: tables)
                }
            }
        } catch let error as PostgresError where error.isTransient {
            self.connection = nil
            throw StageFailure.transient("\(error)")
        } catch let error as PostgresError {
            // The database refused this message's rows (a constraint): keep the refusal, not the message.
            context.logger.error("results rejected by the database", metadata: ["error": "\(error)"])
            try recordRejection(job, reason: "\(error)", in: tables)
        }
        return []
    }

    private func database() throws -> PostgresConnection {
        if let connection, connection.isConnected { return connection }
        do {
            let connection = try PostgresConnection(conninfo: conninfo, logger: logger)
            try ResultsSchema.migrate(connection, schema: schema, logger: logger)
            self.connection = connection
            return connection
        } catch let error as PostgresError where error.isTransient {
            throw StageFailure.transient("\(error)")
        }
    }

    private func record(_ event: StatusEvent, in tables: ResultsTables) throws {
        switch event.outcome {
        case .ingested(let study):
            let warnings = study.warnings.joined(separator: "; ")
            try tables.recordStudyIngested(
                studyInstanceUid: study.studyInstanceUid, patientId: study.patientId, source: study.source,
                series: study.series, warnings: warnings.isEmpty ? nil : warnings,
                error: study.series.isEmpty ? "no usable series" + (warnings.isEmpty ? "" : ": \(warnings)") : nil)
            if study.series.isEmpty { try tables.refreshPatient(study.patientId) }
        case .segmented(let series, let weightsSha256):
            try tables.recordSeriesStatus(series, status: .segmented, segmentationWeightsSha256: weightsSha256)
        case .classified(let series, let result):
            try tables.recordSeriesClassified(series, result: result, computedAt: event.occurredAt)
            if let preview = result.preview {
                try tables.recordSeriesPreview(seriesInstanceUid: series.seriesInstanceUid, key: preview.key,
                                               sha256: preview.sha256)
            }
        case .failed(let subject, let reason):
            switch subject {
            case .series(let series):
                try tables.recordSeriesStatus(series, status: .failed, error: reason)
            case .study(let patientId, let studyInstanceUid, let source):
                try tables.recordStudyFailed(studyInstanceUid: studyInstanceUid, patientId: patientId, source: source,
                                             error: reason)
                try tables.refreshPatient(patientId)
            case .studyFolder:
                break
            }
            try tables.recordFailure(
                kind: .failed, stage: event.stage, jobId: event.jobId, patientId: event.patientId,
                studyInstanceUid: event.studyInstanceUid, seriesInstanceUid: event.series?.seriesInstanceUid,
                source: event.source, reason: reason)
        }
    }

    /// The refusal is the reporter's own finding, so its row names stage "report"; the study, if the event names
    /// one, is named so that a person can find it (identifiers only: events never carry patient names).
    private func record(_ event: StatusEvent, refusedBecause reason: String, in tables: ResultsTables) throws {
        try tables.recordFailure(kind: .failed, stage: name, jobId: event.jobId, patientId: event.patientId,
                                 studyInstanceUid: event.studyInstanceUid,
                                 seriesInstanceUid: event.series?.seriesInstanceUid, source: event.source,
                                 queue: queues.report, reason: reason)
        logger.warning("status event refused: not applied", metadata: [
            "reason": "\(reason)", "job_id": "\(event.jobId)", "study_instance_uid": "\(event.studyInstanceUid ?? "")"])
        refusedEvents.increment()
    }

    private func record(_ letter: DeadLetter, in tables: ResultsTables) throws {
        if let series = letter.series {
            try tables.recordSeriesStatus(series, status: .failed, error: letter.reason)
        }
        try tables.recordFailure(
            kind: .deadLettered, stage: letter.stage, jobId: letter.jobId, patientId: letter.patientId,
            studyInstanceUid: letter.studyInstanceUid, seriesInstanceUid: letter.seriesInstanceUid,
            queue: letter.queue, reason: letter.reason, bodyExcerpt: letter.bodyExcerpt)
    }

    private func recordRejection(_ job: ReportInput, reason: String, in tables: ResultsTables) throws {
        try tables.connection.withTransaction(role: "record rejected message") { _ in
            switch job {
            case .status(let event), .refused(let event, _):
                try tables.recordFailure(kind: .failed, stage: "report", jobId: event.jobId,
                                         patientId: event.patientId, studyInstanceUid: event.studyInstanceUid,
                                         seriesInstanceUid: event.series?.seriesInstanceUid, source: event.source,
                                         queue: queues.report, reason: "not recorded: \(reason)")
            case .deadLetter(let letter):
                try tables.recordFailure(kind: .deadLettered, stage: letter.stage, jobId: letter.jobId,
                                         queue: letter.queue, reason: "\(letter.reason); not recorded: \(reason)")
            }
        }
    }

    private func deadLetter(_ message: IncomingMessage, from queue: String) -> DeadLetter {
        let decodeProblem: MessageError?
        let stage: String
        switch queue {
        case queues.studies:
            stage = "ingest"
            decodeProblem = problem { () throws(MessageError) in _ = try MessageCodec.decode(StudyJob.self, from: message.body) }
        case queues.segment:
            stage = "segment"
            decodeProblem = problem { () throws(MessageError) in _ = try MessageCodec.decode(SegmentJob.self, from: message.body) }
        case queues.classify:
            stage = "classify"
            decodeProblem = problem { () throws(MessageError) in _ = try MessageCodec.decode(ClassifyJob.self, from: message.body) }
        default:
            stage = "report"
            decodeProblem = problem { () throws(MessageError) in _ = try MessageCodec.decode(StatusEvent.self, from: message.body) }
        }
        let brokerReason = message.headers["x-first-death-reason"] ?? "dead-lettered"
        var reason: String
        if let decodeProblem {
            reason = "undecodable (\(brokerReason)): \(decodeProblem)"
        } else if brokerReason == "delivery_limit" {
            reason = "delivery limit reached: the job kept failing transiently or crashing its worker"
        } else {
            reason = "dead-lettered (\(brokerReason))"
        }
        if message.routingKey != queue { reason += " [published with key '\(message.routingKey)']" }
        let fields = (try? JSONSerialization.jsonObject(with: message.body)) as? [String: Any]
        let series = fields?["series"] as? [String: Any]
        let jobId = (fields?["job_id"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "body:\(sha256Hex(message.body))"
        // The excerpt helps find the producer; identifiers only, bodies never hold patient names or pixels.
        let excerpt = String(decoding: message.body.prefix(512), as: UTF8.self)
        return DeadLetter(
            queue: queue, stage: stage, jobId: jobId, reason: reason, bodyExcerpt: excerpt, routingKey: message.routingKey,
            patientId: (series?["patient_id"] ?? fields?["patient_id"]) as? String,
            studyInstanceUid: (series?["study_instance_uid"] ?? fields?["study_instance_uid"]) as? String,
            seriesInstanceUid: series?["series_instance_uid"] as? String, mriType: series?["mri_type"] as? String)
    }
}

private func problem(_ body: () throws(MessageError) -> Void) -> MessageError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}
