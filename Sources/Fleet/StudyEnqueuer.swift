import Broker
import Foundation
import Logging

/// Publishes messages outside a worker loop (commands: `ingest enqueue`, `ingest listen`, `reporter resend`):
/// declares the topology, publishes with confirms.
public struct MessagePublisher {
    private let broker: BrokerConnection
    private let options: WorkerOptions

    public init(options: WorkerOptions, logger: Logger) throws {
        self.options = options
        broker = try BrokerConnection(url: options.amqpURL, logger: logger)
        try broker.declare(options.topology)
    }

    /// Publishes and waits for the broker's confirms.
    public func publish(_ publications: [Publication]) throws {
        try broker.publish(publications.map { $0.message(on: options.queues) }, to: options.exchange)
    }

    public func close() {
        broker.close()
    }
}

extension Publication {
    /// The broker message: routed to its destination queue, the job id as message id.
    func message(on queues: QueueNames) -> OutgoingMessage {
        OutgoingMessage(routingKey: queues.name(of: destination), body: body, messageID: messageId)
    }
}

/// `ingest enqueue`: one `studies` job per study folder of a scanner export.
public struct StudyEnqueuer {
    private let publisher: MessagePublisher

    public init(options: WorkerOptions, logger: Logger) throws {
        publisher = try MessagePublisher(options: options, logger: logger)
    }

    /// The study folders of an export: its visible sub-directories, by name.
    public static func studyFolders(in export: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: export, includingPropertiesForKeys: [.isDirectoryKey],
                                                    options: [.skipsHiddenFiles])
            .filter { (try? $0.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true }
            .map(\.standardizedFileURL)
            .sorted { $0.path < $1.path }
    }

    /// Publishes one job per folder (confirmed); returns the jobs.
    @discardableResult
    public func enqueue(_ folders: [URL]) throws -> [StudyJob] {
        let jobs = folders.map { StudyJob(studyPath: $0.path) }
        try publisher.publish(jobs.map { Publication(.studies, $0) })
        return jobs
    }

    public func close() {
        publisher.close()
    }
}

/// The "stable study" rule of `ingest enqueue --watch` and `ingest listen`: a study folder is ready once nothing
/// in it (names, sizes, modification times) has changed for `quietSeconds`. A folder is reported once per state:
/// if files arrive after it was reported, it is reported again once quiet (the job ids keep results idempotent).
public final class StudyWatcher {
    public let export: URL
    public let quietSeconds: Double
    private var lastSeen: [String: (fingerprint: String, since: Date)] = [:]
    /// The fingerprint of each folder when it was last reported.
    private var reported: [String: String] = [:]

    public init(export: URL, quietSeconds: Double) {
        self.export = export
        self.quietSeconds = quietSeconds
    }

    /// The folders that became ready since the last call.
    public func poll(now: Date = Date()) throws -> [URL] {
        var ready: [URL] = []
        for folder in try StudyEnqueuer.studyFolders(in: export) {
            let fingerprint = Self.fingerprint(of: folder)
            if reported[folder.path] == fingerprint { continue }
            if let seen = lastSeen[folder.path], seen.fingerprint == fingerprint {
                if now.timeIntervalSince(seen.since) >= quietSeconds {
                    reported[folder.path] = fingerprint
                    lastSeen[folder.path] = nil
                    ready.append(folder)
                }
            } else {
                lastSeen[folder.path] = (fingerprint, now)
            }
        }
        return ready
    }

    /// Forgets that `folder` was reported (its enqueue failed), so that it is reported again once quiet.
    public func forget(_ folder: URL) {
        reported[folder.path] = nil
    }

    private static func fingerprint(of folder: URL) -> String {
        let keys: [URLResourceKey] = [.fileSizeKey, .contentModificationDateKey]
        var entries: [String] = []
        if let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: keys) {
            for case let file as URL in walker {
                let values = try? file.resourceValues(forKeys: Set(keys))
                entries.append("\(file.path)|\(values?.fileSize ?? -1)|\(values?.contentModificationDate?.timeIntervalSince1970 ?? 0)")
            }
        }
        return entries.sorted().joined(separator: "\n")
    }
}
