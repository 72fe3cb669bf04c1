import Broker
import Foundation

public enum ConfigurationError: Error, CustomStringConvertible {
    case missing(String)
    case invalid(String, value: String, expected: String)
    /// A setting no retry can make work (e.g. a broker URL with an unknown scheme, amqps without its CA file).
    case unusable(String, reason: String)

    public var description: String {
        switch self {
        case .missing(let name): return "configuration: \(name) is not set"
        case .invalid(let name, let value, let expected): return "configuration: \(name)=\(value) is not \(expected)"
        case .unusable(let name, let reason): return "configuration: \(name): \(reason)"
        }
    }
}

/// Queue names: one durable quorum queue per stage, each with a dead-letter queue `<name>.dead`.
public struct QueueNames: Sendable, Equatable {
    public var studies: String
    public var segment: String
    public var classify: String
    public var report: String
    /// The 3D classifier's jobs (ingest → cls-worker --model resnet3d), apart so that its replicas scale alone.
    public var classify3d: String
    /// Complete studies for the DICOM edge (`ingest deliver`), from the reporter.
    public var deliver: String

    public init(studies: String = "studies", segment: String = "segment", classify: String = "classify",
                report: String = "report", classify3d: String = "classify3d", deliver: String = "deliver") {
        self.studies = studies
        self.segment = segment
        self.classify = classify
        self.report = report
        self.classify3d = classify3d
        self.deliver = deliver
    }

    public var all: [String] { [studies, segment, classify, report, classify3d, deliver] }

    public static func deadLetter(of queue: String) -> String { queue + ".dead" }

    /// The stages that publish status events. Each publishes them under its own routing key, `<report>.<stage>`,
    /// which the broker's topic permissions let only that stage's user write: the reporter believes a status only
    /// from the stage that reaches it (`classified` only from the classifier), however the body names itself.
    public static let reportingStages = ["ingest", "segment", "classify", VolumeClassifyJob.messageKind, "deliver"]

    /// The routing key `stage` publishes its status events with.
    public func reportKey(of stage: String) -> String { "\(report).\(stage)" }

    /// The stage whose key `routingKey` is, if it is a reporting stage's report key.
    public func reportingStage(ofKey routingKey: String) -> String? {
        Self.reportingStages.first { reportKey(of: $0) == routingKey }
    }

    /// The keys bound to `queue` on the work exchange: the queue's name, or every reporting stage's report key.
    public func routingKeys(of queue: String) -> [String] {
        queue == report ? Self.reportingStages.map(reportKey(of:)) : [queue]
    }
}

/// The one configuration every executable reads from its environment (12-factor). README "Configuration" lists it.
public struct FleetConfiguration: Sendable {
    /// MGMT_AMQP_URL: the broker, `amqp://user:password@host:port/vhost`.
    public var amqpURL: String?
    /// MGMT_PG_CONNINFO: the reporter's database (libpq conninfo).
    public var postgresConninfo: String?
    /// MGMT_STORE: the artifact store's root directory (a volume all workers share).
    public var storeRoot: String
    /// MGMT_EXPORTS: the folders (colon-separated) study jobs may point into; a study whose real path (symlinks
    /// resolved) is outside all of them is refused. Default `.local/demo/export`, where `scripts/demo.sh` puts its
    /// study (a fleet sets its exports volume, e.g. `/var/lib/mgmt/exports`). The ingest worker also accepts
    /// studies under `dicomIncoming`, where `ingest listen` writes what it receives.
    public var exportRoots: [String]
    /// MGMT_MODELS: the model directory (segmentation.safetensors, classifier-<type>.safetensors).
    public var modelsDirectory: String
    /// MGMT_PREFETCH: unacknowledged deliveries per worker (basic.qos); default 1 (model workers run one job).
    public var prefetch: Int
    /// MGMT_THREADS: compute threads for a model worker; default the machine's cores.
    public var threads: Int
    /// MGMT_METRICS_PORT: port of `/metrics` and `/healthz`; 0 picks a free port (logged); `off` disables.
    public var metricsPort: Int?
    /// MGMT_METRICS_BIND: the address `/metrics` and `/healthz` listen on; default 127.0.0.1 (this host only).
    /// A container sets its own address (or 0.0.0.0) so that its orchestrator can reach the health check.
    public var metricsBindAddress: String
    /// MGMT_EXCHANGE: the exchange every stage queue is bound to (direct, routing key = queue name).
    public var exchange: String
    /// MGMT_QUEUE_STUDIES / _SEGMENT / _CLASSIFY / _REPORT / _DELIVER: queue names.
    public var queues: QueueNames
    /// MGMT_DELIVERY_LIMIT: deliveries before the broker dead-letters a message (crashes count too).
    public var deliveryLimit: Int
    /// MGMT_HEARTBEAT: AMQP heartbeat seconds.
    public var heartbeatSeconds: Int
    /// MGMT_RETRIES: in-process retries of a transient failure before the message goes back to the queue.
    public var transientRetries: Int
    /// MGMT_RETRY_BACKOFF: first backoff in seconds (doubles per retry, also used for reconnects).
    public var retryBackoffSeconds: Double
    /// MGMT_WATCH_QUIET: seconds a study folder must be unchanged before `ingest enqueue --watch` enqueues it.
    public var watchQuietSeconds: Double
    /// MGMT_SHUTDOWN_GRACE: seconds a worker may spend finishing its job after SIGTERM; then the job is requeued.
    public var shutdownGraceSeconds: Double
    /// MGMT_PG_SCHEMA: the PostgreSQL schema the reporter writes (tests use their own).
    public var postgresSchema: String
    /// MGMT_LOG_LEVEL: trace, debug, info, notice, warning, error or critical.
    public var logLevel: String
    /// MGMT_RESULTS_HOST / MGMT_RESULTS_PORT: where `reporter serve` listens (loopback unless configured).
    public var resultsHost: String
    public var resultsPort: Int

    // `ingest listen`, the fleet's DICOM Storage SCP.
    /// MGMT_DICOM_AE: the AE title the listener answers to (1-16 characters).
    public var dicomAETitle: String
    /// MGMT_DICOM_BIND: the IPv4 address `ingest listen` listens on; default 127.0.0.1 (this host only), so
    /// receiving from a scanner or PACS is a deliberate choice (its address, or 0.0.0.0 for every interface).
    public var dicomBindAddress: String
    /// MGMT_DICOM_PORT: the DICOM port.
    public var dicomPort: Int
    /// MGMT_DICOM_ALLOWED_AES: comma-separated calling AE titles allowed to associate; empty allows any.
    public var dicomAllowedAETitles: [String]
    /// MGMT_DICOM_ALLOWED_HOSTS: comma-separated peer IP addresses allowed to associate; empty allows any.
    public var dicomAllowedHosts: [String]
    /// MGMT_DICOM_INCOMING: where received instances are written, one folder per study (workers must see it).
    public var dicomIncoming: String

    // `ingest deliver`, the fleet's DICOM output.
    /// MGMT_DICOM_DESTINATION: the PACS the SEG and SR objects are sent to, `AE@host:port`; unset: only stored.
    /// (Checked by `ingest deliver` at start.) The calling AE title is MGMT_DICOM_AE.
    public var dicomDestination: String?
    /// MGMT_DICOM_SEND_ATTEMPTS: C-STORE attempts per delivery while the destination is unreachable (default 5).
    public var dicomSendAttempts: Int
    /// MGMT_DICOM_SEND_BACKOFF: seconds before the second attempt (default 2), doubling up to
    /// MGMT_DICOM_SEND_BACKOFF_MAX (default 60).
    public var dicomSendBackoffSeconds: Double
    public var dicomSendBackoffMaximumSeconds: Double

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        func text(_ name: String, _ fallback: String) -> String {
            let value = environment[name] ?? ""
            return value.isEmpty ? fallback : value
        }
        func integer(_ name: String, _ fallback: Int, minimum: Int) throws(ConfigurationError) -> Int {
            guard let raw = environment[name], !raw.isEmpty else { return fallback }
            guard let value = Int(raw), value >= minimum else {
                throw .invalid(name, value: raw, expected: "an integer ≥ \(minimum)")
            }
            return value
        }
        func seconds(_ name: String, _ fallback: Double) throws(ConfigurationError) -> Double {
            guard let raw = environment[name], !raw.isEmpty else { return fallback }
            guard let value = Double(raw), value >= 0, value.isFinite else {
                throw .invalid(name, value: raw, expected: "a number of seconds ≥ 0")
            }
            return value
        }
        amqpURL = environment["MGMT_AMQP_URL"].flatMap { $0.isEmpty ? nil : $0 }
        postgresConninfo = environment["MGMT_PG_CONNINFO"].flatMap { $0.isEmpty ? nil : $0 }
        storeRoot = text("MGMT_STORE", ".local/store")
        modelsDirectory = text("MGMT_MODELS", ".local/models")
        exportRoots = text("MGMT_EXPORTS", ".local/demo/export").split(separator: ":").map(String.init)
        prefetch = try integer("MGMT_PREFETCH", 1, minimum: 1)
        threads = try integer("MGMT_THREADS", ProcessInfo.processInfo.activeProcessorCount, minimum: 1)
        if environment["MGMT_METRICS_PORT"] == "off" {
            metricsPort = nil
        } else {
            metricsPort = try integer("MGMT_METRICS_PORT", 9100, minimum: 0)
            if let port = metricsPort, port > 65535 {
                throw .invalid("MGMT_METRICS_PORT", value: String(port), expected: "a TCP port, 0 or off")
            }
        }
        metricsBindAddress = text("MGMT_METRICS_BIND", "127.0.0.1")
        exchange = text("MGMT_EXCHANGE", "mgmt")
        queues = QueueNames(
            studies: text("MGMT_QUEUE_STUDIES", "studies"), segment: text("MGMT_QUEUE_SEGMENT", "segment"),
            classify: text("MGMT_QUEUE_CLASSIFY", "classify"), report: text("MGMT_QUEUE_REPORT", "report"),
            classify3d: text("MGMT_QUEUE_CLASSIFY3D", "classify3d"), deliver: text("MGMT_QUEUE_DELIVER", "deliver"))
        deliveryLimit = try integer("MGMT_DELIVERY_LIMIT", 5, minimum: 1)
        heartbeatSeconds = try integer("MGMT_HEARTBEAT", 30, minimum: 0)
        transientRetries = try integer("MGMT_RETRIES", 3, minimum: 0)
        retryBackoffSeconds = try seconds("MGMT_RETRY_BACKOFF", 1)
        watchQuietSeconds = try seconds("MGMT_WATCH_QUIET", 30)
        shutdownGraceSeconds = try seconds("MGMT_SHUTDOWN_GRACE", 30)
        postgresSchema = text("MGMT_PG_SCHEMA", "public")
        resultsHost = text("MGMT_RESULTS_HOST", "127.0.0.1")
        resultsPort = try integer("MGMT_RESULTS_PORT", 8080, minimum: 0)
        guard resultsPort <= 65535 else {
            throw .invalid("MGMT_RESULTS_PORT", value: String(resultsPort), expected: "a TCP port or 0")
        }
        logLevel = text("MGMT_LOG_LEVEL", "info")
        dicomAETitle = text("MGMT_DICOM_AE", "MGMTFLEET")
        guard dicomAETitle.count <= 16 else {
            throw .invalid("MGMT_DICOM_AE", value: dicomAETitle, expected: "an AE title of at most 16 characters")
        }
        dicomBindAddress = text("MGMT_DICOM_BIND", "127.0.0.1")
        dicomPort = try integer("MGMT_DICOM_PORT", 11112, minimum: 1)
        guard dicomPort <= 65535 else {
            throw .invalid("MGMT_DICOM_PORT", value: String(dicomPort), expected: "a TCP port")
        }
        func list(_ name: String) -> [String] {
            (environment[name] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
        dicomAllowedAETitles = list("MGMT_DICOM_ALLOWED_AES")
        dicomAllowedHosts = list("MGMT_DICOM_ALLOWED_HOSTS")
        dicomIncoming = text("MGMT_DICOM_INCOMING", storeRoot + "/incoming")
        dicomDestination = environment["MGMT_DICOM_DESTINATION"].flatMap { $0.isEmpty ? nil : $0 }
        dicomSendAttempts = try integer("MGMT_DICOM_SEND_ATTEMPTS", 5, minimum: 1)
        dicomSendBackoffSeconds = try seconds("MGMT_DICOM_SEND_BACKOFF", 2)
        dicomSendBackoffMaximumSeconds = try seconds("MGMT_DICOM_SEND_BACKOFF_MAX", 60)
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(logLevel) else {
            throw .invalid("MGMT_LOG_LEVEL", value: logLevel, expected: "one of \(levels.joined(separator: ", "))")
        }
    }

    /// The broker URL, checked with its TLS settings (MGMT_AMQP_TLS_*) so that a process fails at start, with
    /// one line, on a URL or TLS file that can never work instead of reconnecting forever.
    public func requireAMQPURL(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigurationError) -> String
    {
        guard let amqpURL else { throw .missing("MGMT_AMQP_URL") }
        do {
            _ = try BrokerTLS.forURL(AMQPURL(parsing: amqpURL), environment: environment)
        } catch {
            throw .unusable("MGMT_AMQP_URL", reason: "\(error)")
        }
        return amqpURL
    }

    public func requirePostgresConninfo() throws(ConfigurationError) -> String {
        guard let postgresConninfo else { throw .missing("MGMT_PG_CONNINFO") }
        return postgresConninfo
    }
}
