import Foundation
import Logging

/// The queues a stage reads and writes, by role; `QueueNames` turns roles into configured names.
public enum QueueRole: Sendable, CaseIterable {
    case studies, segment, classify, report
}

extension QueueNames {
    public func name(of role: QueueRole) -> String {
        switch role {
        case .studies: return studies
        case .segment: return segment
        case .classify: return classify
        case .report: return report
        }
    }
}

/// A message a stage wants published once its output is stored.
public struct Publication: Sendable {
    public var destination: QueueRole
    public var body: Data
    /// The message id on the wire: the job id, so a duplicate is recognisable in the broker's tools.
    public var messageId: String

    public init<M: FleetMessage>(_ destination: QueueRole, _ message: M) {
        self.destination = destination
        self.body = MessageCodec.encode(message)
        self.messageId = message.jobId
    }
}

/// A delivery as a stage sees it (no broker types: stages are testable without a connection).
public struct IncomingMessage: Sendable {
    public var body: Data
    public var queue: String
    /// The routing key the message was published with (for a dead letter, its key before the dead-lettering):
    /// the broker's topic permissions decide who may publish with which key, so it says which role sent it.
    public var routingKey: String
    public var headers: [String: String]
    public var redelivered: Bool

    public init(body: Data, queue: String, routingKey: String? = nil, headers: [String: String] = [:],
                redelivered: Bool = false) {
        self.body = body
        self.queue = queue
        self.routingKey = routingKey ?? queue
        self.headers = headers
        self.redelivered = redelivered
    }
}

/// What a stage gets for one job.
public struct StageContext: Sendable {
    public let store: ArtifactStore
    /// An empty directory for this job only (inside the store's volume, so inputs can be hard-linked into it);
    /// removed when the job ends.
    public let workspace: URL
    public let logger: Logger
}

/// How a stage says a job failed. Errors of other types are permanent unless they say otherwise
/// (`ArtifactStoreError.isTransient`).
public enum StageFailure: Error, CustomStringConvertible {
    /// The job can never succeed as it is (bad DICOM, no series, model error): reported and acknowledged.
    case permanent(String)
    /// It may succeed later (store or database unavailable): retried with backoff.
    case transient(String)

    public var description: String {
        switch self {
        case .permanent(let reason), .transient(let reason): return reason
        }
    }

    /// Sorts any error into permanent or transient, with a one-line reason.
    public static func classify(_ error: any Error) -> StageFailure {
        switch error {
        case let failure as StageFailure: return failure
        case let store as ArtifactStoreError:
            return store.isTransient ? .transient(store.description) : .permanent(store.description)
        default: return .permanent(String(describing: error))
        }
    }
}

/// One stage of the fleet, run by `Worker`: decode a delivery, do the work (storing its output), and say what to
/// publish next. Each executable supplies one stage; the worker loop is shared.
public protocol Stage: Sendable {
    associatedtype Job: Sendable
    /// Short name for logs, metrics and status events ("ingest", "segment", "classify", "report").
    var name: String { get }
    /// The queues to consume.
    func consumedQueues(_ names: QueueNames) -> [String]
    /// Strict decoding; a `MessageError` sends the delivery to the dead-letter queue.
    func decode(_ message: IncomingMessage) throws(MessageError) -> Job
    /// Does the work. Runs on the worker thread while another thread services the broker connection.
    func run(_ job: Job, context: StageContext) throws -> [Publication]
    /// What to publish when `job` failed permanently (nil: nothing, the stage recorded it itself).
    func failurePublications(for job: Job, reason: String) -> [Publication]
    /// Whether a transient failure is retried until it passes instead of going back to the queue after
    /// MGMT_RETRIES attempts: for a stage whose one dependency is down, so that no other message could pass either
    /// (the reporter and its database), and requeueing would only burn the delivery limit.
    var retriesTransientFailuresUntilSuccess: Bool { get }
}

extension Stage {
    public var retriesTransientFailuresUntilSuccess: Bool { false }
}

extension Stage where Job: FleetMessage {
    public func decode(_ message: IncomingMessage) throws(MessageError) -> Job {
        try MessageCodec.decode(Job.self, from: message.body)
    }
}
