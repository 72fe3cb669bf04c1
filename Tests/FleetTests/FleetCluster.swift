import Broker
import Fleet
import Foundation
import ResultsStore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The fleet's executables as separate processes on the real servers, with a private topology (unique queue
/// names), artifact store and PostgreSQL schema, so that tests can share the servers.
final class FleetCluster {
    let root: URL
    let environment: [String: String]
    let configuration: FleetConfiguration
    let schema: String
    private(set) var processes: [String: Process] = [:]
    private var counter = 0

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Where `swift build` put the executables: beside the test bundle.
    static var binDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    init(models: URL? = nil, extra: [String: String] = [:]) throws {
        let prefix = TestServers.uniqueName("c")
        root = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-\(prefix)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("logs"), withIntermediateDirectories: true)
        schema = TestServers.uniqueName("fleet_cluster")
        var environment = ProcessInfo.processInfo.environment
        let own: [String: String] = [
            "MGMT_AMQP_URL": try TestServers.amqpURL(), "MGMT_PG_CONNINFO": try TestServers.postgresConninfo(),
            "MGMT_PG_SCHEMA": schema, "MGMT_EXCHANGE": "\(prefix).x",
            "MGMT_QUEUE_STUDIES": "\(prefix).studies", "MGMT_QUEUE_SEGMENT": "\(prefix).segment",
            "MGMT_QUEUE_CLASSIFY": "\(prefix).classify", "MGMT_QUEUE_REPORT": "\(prefix).report",
            "MGMT_QUEUE_CLASSIFY3D": "\(prefix).classify3d",
            "MGMT_QUEUE_DELIVER": "\(prefix).deliver",
            "MGMT_STORE": root.appendingPathComponent("store").path,
            // Every test export lives under the temporary directory (fixtures and per-test folders alike).
            "MGMT_EXPORTS": FileManager.default.temporaryDirectory.path,
            "MGMT_MODELS": models?.path ?? root.appendingPathComponent("models").path,
            "MGMT_METRICS_PORT": "0", "MGMT_RETRY_BACKOFF": "0.2", "MGMT_HEARTBEAT": "5",
            "MGMT_SHUTDOWN_GRACE": "20", "MGMT_THREADS": "2",
        ]
        environment.merge(own) { _, new in new }
        environment.merge(extra) { _, new in new }
        self.environment = environment
        configuration = try FleetConfiguration(environment: environment)
        for executable in ["ingest", "seg-worker", "cls-worker", "reporter"] {
            let path = Self.binDirectory.appendingPathComponent(executable).path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw TestSetupError(message: "\(path) is missing: build with `swift build -c release --build-tests`")
            }
        }
    }

    var queues: QueueNames { configuration.queues }

    /// Starts `executable work` (or other `arguments`) as a separate process; its output goes to logs/<name>.log.
    @discardableResult
    func start(_ executable: String, name: String? = nil, arguments: [String] = ["work"], extra: [String: String] = [:])
        throws -> String
    {
        counter += 1
        let name = name ?? "\(executable)-\(counter)"
        let process = Process()
        process.executableURL = Self.binDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        process.environment = environment.merging(extra) { _, new in new }
        let log = root.appendingPathComponent("logs/\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[name] = process
        return name
    }

    /// Runs an executable to completion (e.g. `ingest enqueue DIR`); returns its exit status and output.
    @discardableResult
    func runToCompletion(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try runCapturingOutput(Self.binDirectory.appendingPathComponent(executable), arguments, environment: environment)
    }

    func log(of name: String) -> String {
        (try? String(contentsOf: root.appendingPathComponent("logs/\(name).log"), encoding: .utf8)) ?? ""
    }

    func isRunning(_ name: String) -> Bool { processes[name]?.isRunning ?? false }

    func kill9(_ name: String) {
        guard let process = processes[name] else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits; returns the exit status (SIGKILL after `timeout`).
    @discardableResult
    func terminate(_ name: String, timeout: Double = 30) -> Int32 {
        guard let process = processes[name] else { return -1 }
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        return process.terminationStatus
    }

    /// A connection to the cluster's schema (the reporter creates it at start).
    func tables() throws -> ResultsTables {
        let connection = try PostgresConnection(conninfo: try TestServers.postgresConninfo())
        try connection.execute("SET search_path TO \"\(schema)\"")
        return ResultsTables(connection)
    }

    /// Waits until the query's result satisfies `done`, re-connecting if the database is briefly away.
    func waitForRows<T>(timeout: Double, _ read: (ResultsTables) throws -> T, until done: (T) -> Bool) throws -> T {
        let deadline = Date().addingTimeInterval(timeout)
        var last: T?
        while Date() < deadline {
            if let tables = try? self.tables(), let value = try? read(tables) {
                last = value
                if done(value) { return value }
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
        let logs = processes.keys.sorted().map { "--- \($0)\n\(log(of: $0).suffix(3000))" }.joined(separator: "\n")
        throw TestSetupError(message: "rows not as expected within \(timeout) s; last: \(String(describing: last))\n\(logs)")
    }

    func broker() throws -> BrokerConnection {
        try BrokerConnection(url: try TestServers.amqpURL())
    }

    func stopAll() {
        for name in processes.keys.sorted() { terminate(name, timeout: 10) }
        processes.removeAll()
        if let broker = try? broker(), let options = try? WorkerOptions(configuration: configuration) {
            try? broker.delete(options.topology)
            broker.close()
        }
        TestServers.dropSchema(schema)
        try? FileManager.default.removeItem(at: root)
    }
}

/// Sample studies from the ingest helper's generator (Debian python3 + pydicom).
enum SampleStudies {
    static func make(into export: URL, patient: String, slices: Int, size: Int, series: String, seed: Int = 7) throws {
        let (status, output) = try runCapturingOutput(
            URL(fileURLWithPath: "/usr/bin/python3"),
            [FleetCluster.repositoryRoot.appendingPathComponent("tools/testdata/make_study.py").path,
             "--out", export.path, "--patient", patient, "--slices", "\(slices)", "--size", "\(size)",
             "--series", series, "--seed", "\(seed)"])
        guard status == 0 else { throw TestSetupError(message: "make_study.py failed: \(output)") }
    }
}

/// Runs a program to completion; returns its exit status and its stdout and stderr together.
func runCapturingOutput(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws
    -> (status: Int32, output: String)
{
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}
