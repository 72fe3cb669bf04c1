import ArgumentParser
import DICOMExchange
import Dispatch
import Fleet
import Foundation
import Logging
import Metrics

#if canImport(Glibc)
import Glibc
#endif

/// `ingest listen`: a DICOM Storage SCP that writes instances under the incoming root (one folder per study)
/// and enqueues a study once no instance arrived for it for MGMT_WATCH_QUIET seconds.
struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Receive studies by DICOM C-STORE and enqueue each once it is complete.",
        discussion: """
            Configured from the environment: MGMT_DICOM_AE (default MGMTFLEET), MGMT_DICOM_BIND (127.0.0.1: \
            this host only; the address to receive on, or 0.0.0.0 for every interface), MGMT_DICOM_PORT (11112), \
            MGMT_DICOM_ALLOWED_AES and MGMT_DICOM_ALLOWED_HOSTS (comma-separated; empty allows any), \
            MGMT_DICOM_INCOMING (default MGMT_STORE/incoming; the ingest workers must see it too) and \
            MGMT_WATCH_QUIET. Each instance is on disk (fsync, rename) before its success status goes back. \
            Instances arriving after a study was enqueued enqueue it again. Stops on SIGTERM or SIGINT.
            """)

    func run() throws {
        let configuration = try FleetConfiguration()
        WorkerProcess.bootstrapLogging(level: configuration.logLevel)
        let logger = Logger(label: "listen")
        let incoming = URL(fileURLWithPath: configuration.dicomIncoming).standardizedFileURL
        try FileManager.default.createDirectory(at: incoming, withIntermediateDirectories: true)
        let enqueuer = try StudyEnqueuer(options: try WorkerOptions(configuration: configuration), logger: logger)
        defer { enqueuer.close() }
        let scp = try StorageSCP(StorageSCP.Configuration(
            aeTitle: configuration.dicomAETitle, bindAddress: configuration.dicomBindAddress,
            port: UInt16(configuration.dicomPort), incomingRoot: incoming.path,
            allowedCallingAETitles: configuration.dicomAllowedAETitles, allowedHosts: configuration.dicomAllowedHosts))
        defer { scp.stop() }
        logger.info("listening for DICOM", metadata: [
            "ae_title": "\(configuration.dicomAETitle)", "address": "\(configuration.dicomBindAddress)",
            "port": "\(configuration.dicomPort)",
            "incoming": "\(incoming.path)", "quiet_s": "\(configuration.watchQuietSeconds)"])

        let enqueueProblem = Problem()
        var server: StatusServer?
        if let port = configuration.metricsPort {
            server = try StatusServer(address: configuration.metricsBindAddress, port: port, health: { enqueueProblem.value }, logger: logger)
            logger.info("serving /metrics and /healthz", metadata: ["port": "\(server?.port ?? port)"])
        }
        defer { server?.stop() }

        let stopRequested = DispatchSemaphore(value: 0)
        let signals = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stopRequested.signal() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }

        let watcher = StudyWatcher(export: incoming, quietSeconds: configuration.watchQuietSeconds)
        let metrics = StorageSCPMetrics()
        let tick = min(1, max(watcher.quietSeconds / 4, 0.1))
        while stopRequested.wait(timeout: .now() + tick) == .timedOut {
            metrics.record(scp.counters)
            for study in try watcher.poll() {
                do {
                    let job = try enqueuer.enqueue([study])[0]
                    enqueueProblem.value = nil
                    logger.info("study enqueued", metadata: ["study": "\(study.lastPathComponent)", "job_id": "\(job.jobId)"])
                } catch {
                    // Kept on disk; the watcher reports it again once quiet.
                    watcher.forget(study)
                    enqueueProblem.value = "enqueue failed: \(error)"
                    logger.error("enqueue failed; will retry", metadata: ["study": "\(study.lastPathComponent)", "error": "\(error)"])
                }
            }
        }
        logger.info("stop requested: closing the DICOM listener (running associations finish)")
        scp.stop()
    }
}

/// The listener's health: the last enqueue failure, if any (served by `/healthz` as 503).
private final class Problem: @unchecked Sendable {
    private let lock = NSLock()
    private var text: String?
    var value: String? {
        get { lock.withLock { text } }
        set { lock.withLock { text = newValue } }
    }
}

/// The SCP's counters as Prometheus metrics: the SCP counts in C, this adds the growth since the last call.
private final class StorageSCPMetrics {
    /// The counters at the last call (nil before the first: the SCP counts from zero).
    private var last: StorageSCPCounters?
    private let accepted, rejected, declined, echoes, instances, bytes, failed: Counter
    private let active: Meter

    init() {
        _ = FleetMetrics.registry  // the Prometheus backend, before any metric is made
        accepted = Counter(label: "mgmt_dicom_associations_total", dimensions: [("outcome", "accepted")])
        rejected = Counter(label: "mgmt_dicom_associations_total", dimensions: [("outcome", "rejected")])
        declined = Counter(label: "mgmt_dicom_contexts_declined_total")
        echoes = Counter(label: "mgmt_dicom_echoes_total")
        instances = Counter(label: "mgmt_dicom_instances_total")
        bytes = Counter(label: "mgmt_dicom_bytes_total")
        failed = Counter(label: "mgmt_dicom_stores_failed_total")
        active = Meter(label: "mgmt_dicom_associations_active")
    }

    func record(_ now: StorageSCPCounters) {
        func grow(_ counter: Counter, _ value: KeyPath<StorageSCPCounters, UInt64>) {
            counter.increment(by: Int64(now[keyPath: value] - (last?[keyPath: value] ?? 0)))
        }
        grow(accepted, \.associationsAccepted)
        grow(rejected, \.associationsRejected)
        grow(declined, \.contextsDeclined)
        grow(echoes, \.echoes)
        grow(instances, \.instancesStored)
        grow(bytes, \.bytesStored)
        grow(failed, \.storesFailed)
        active.set(now.associationsActive)
        last = now
    }
}
