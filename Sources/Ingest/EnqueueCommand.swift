import ArgumentParser
import Fleet
import Foundation
import Logging

/// `ingest enqueue EXPORT_DIR`: one `studies` job per study folder; `--watch` keeps enqueueing new ones.
struct EnqueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Publish one job per study folder of a scanner export (its sub-folders).",
        discussion: """
            With --watch, keeps watching EXPORT_DIR and enqueues each new study folder once nothing in it has \
            changed for --quiet seconds (default MGMT_WATCH_QUIET, 30). Folders are given to the workers by \
            path: EXPORT_DIR must be where the ingest workers see it too (a shared volume in a fleet).
            """)

    @Argument(help: "The export folder: one sub-folder per study.")
    var export: String

    @Flag(help: "Keep watching for new study folders (stop with Ctrl-C).")
    var watch = false

    @Option(help: "Seconds a new study folder must stay unchanged before it is enqueued (--watch).")
    var quiet: Double?

    func run() throws {
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        let exportURL = URL(fileURLWithPath: export).standardizedFileURL
        let enqueuer = try StudyEnqueuer(options: try WorkerOptions(configuration: configuration),
                                         logger: Logger(label: "enqueue"))
        defer { enqueuer.close() }
        if watch {
            let watcher = StudyWatcher(export: exportURL, quietSeconds: quiet ?? configuration.watchQuietSeconds)
            say("watching \(exportURL.path) (a study is enqueued once quiet for \(watcher.quietSeconds) s); Ctrl-C stops")
            var total = 0
            while true {
                for folder in try watcher.poll() {
                    try enqueuer.enqueue([folder])
                    total += 1
                    say("enqueued \(folder.lastPathComponent) (\(total) so far)")
                }
                Thread.sleep(forTimeInterval: min(1, max(watcher.quietSeconds / 4, 0.1)))
            }
        }
        let folders = try StudyEnqueuer.studyFolders(in: exportURL)
        guard !folders.isEmpty else {
            throw ValidationError("\(exportURL.path) has no study folders (one sub-folder per study expected)")
        }
        for (index, folder) in folders.enumerated() {
            let job = try enqueuer.enqueue([folder])[0]
            say("[\(index + 1)/\(folders.count)] enqueued \(folder.lastPathComponent)  job \(job.jobId.prefix(12))")
        }
        say("enqueued \(folders.count) stud\(folders.count == 1 ? "y" : "ies") from \(exportURL.path) to queue \(configuration.queues.studies)")
    }
}

/// A progress line written at once (print is block-buffered into a pipe or a container log).
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
