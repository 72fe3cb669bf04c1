import Broker
import Fleet
import Foundation
import ResultsStore
import XCTest

/// Stops and starts the servers the tests use, with scripts/servers.sh and the environment that started them
/// (CI: the pair scripts/test.sh started). Developers who share one pair between several checkouts set
/// MGMT_SHARED_SERVERS=1 so that these tests never restart servers under someone else's run.
enum ServerControl {
    static func requireOwnServers() throws {
        if ProcessInfo.processInfo.environment["MGMT_SHARED_SERVERS"] == "1" {
            throw XCTSkip("fault tests restart servers; MGMT_SHARED_SERVERS=1 says these are shared")
        }
    }

    /// posix_spawn + waitpid rather than Foundation's Process: the servers daemonise, and Process was seen to
    /// never notice the exit of a shell whose children detach (a zombie it did not reap).
    static func run(_ command: String) throws {
        let script = FleetCluster.repositoryRoot.appendingPathComponent("scripts/servers.sh").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("servers-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = ["/bin/bash", script, command]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/bash", &actions, nil, argv, environ)
        guard spawned == 0 else { throw TestSetupError(message: "cannot run servers.sh: errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestSetupError(message: "servers.sh \(command) failed: \(output)") }
    }
}

/// Failure handling of the real executables on the real servers (ingest and reporter processes).
final class FleetFaultTests: XCTestCase {
    private var cluster: FleetCluster?
    private var export: URL?

    override func tearDown() {
        cluster?.stopAll()
        if let export { try? FileManager.default.removeItem(at: export) }
    }

    private func makeExport(patients: [String]) throws -> URL {
        let export = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        self.export = export
        for (index, patient) in patients.enumerated() {
            try SampleStudies.make(into: export, patient: patient, slices: 8, size: 48, series: "FLAIR,T2w", seed: 7 + index)
        }
        return export
    }

    private func studyCount(_ tables: ResultsTables) throws -> Int {
        try tables.connection.execute("SELECT count(*) AS n FROM studies WHERE n_series = 2").rows[0].int("n")
    }

    func testMalformedMessageIsDeadLetteredAndRecordedWhileTheWorkerGoesOn() throws {
        let cluster = try FleetCluster()
        self.cluster = cluster
        let export = try makeExport(patients: ["00101"])
        let ingest = try cluster.start("ingest")
        try cluster.start("reporter")
        let broker = try cluster.broker()
        defer { broker.close() }
        // Declared by the workers; wait until the ingest worker consumes before publishing.
        try waitUntil { cluster.log(of: ingest).contains("consuming") }
        try broker.publish(OutgoingMessage(routingKey: cluster.queues.studies, body: Data("{\"schema\":1,\"kind\":\"study\"".utf8)),
                           to: cluster.configuration.exchange)
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)

        let failures = try cluster.waitForRows(timeout: 60, { try $0.failures() }, until: { $0.count == 1 })
        XCTAssertEqual(failures[0].kind, "dead-lettered")
        XCTAssertEqual(failures[0].stage, "ingest")
        XCTAssertEqual(failures[0].queue, cluster.queues.studies)
        XCTAssertTrue(failures[0].reason.hasPrefix("undecodable (rejected): message body is not valid JSON"), failures[0].reason)
        XCTAssertEqual(try cluster.waitForRows(timeout: 60, studyCount, until: { $0 == 1 }), 1)
        XCTAssertTrue(cluster.isRunning(ingest), "the worker is alive after the malformed message")
        XCTAssertEqual(try broker.messageCount(queue: QueueNames.deadLetter(of: cluster.queues.studies)), 0,
                       "the reporter consumed the dead letter")
        XCTAssertEqual(cluster.terminate(ingest), 0, "SIGTERM: clean exit")
    }

    /// Jobs queued before the broker stops are consumed after it starts again, without enqueueing anything twice:
    /// the study jobs wait in `studies` (no ingest worker yet) while RabbitMQ restarts under a running reporter;
    /// after the restart the same three jobs are still there, an ingest worker consumes them and the reporter,
    /// reconnected by itself, records all three studies. If the broker lost the messages, nothing is recorded.
    func testRabbitMQRestartKeepsQueuedJobs() throws {
        try ServerControl.requireOwnServers()
        let cluster = try FleetCluster()
        self.cluster = cluster
        let export = try makeExport(patients: ["00201", "00202", "00203"])
        let reporter = try cluster.start("reporter")
        try waitUntil { cluster.log(of: reporter).contains("consuming") }
        defer { try? ServerControl.run("start-rabbitmq") }
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        func queuedStudies() throws -> Int {
            let broker = try cluster.broker()
            defer { broker.close() }
            return try broker.messageCount(queue: cluster.queues.studies)
        }
        XCTAssertEqual(try queuedStudies(), 3, "the jobs wait in the queue before the restart")
        try ServerControl.run("stop-rabbitmq")
        Thread.sleep(forTimeInterval: 2)
        try ServerControl.run("start-rabbitmq")
        try waitUntil(timeout: 30) { (try? queuedStudies()) != nil }  // the queue's leader is back
        XCTAssertEqual(try queuedStudies(), 3, "the broker kept the queued jobs across the restart")

        let ingest = try cluster.start("ingest")
        XCTAssertEqual(try cluster.waitForRows(timeout: 90, studyCount, until: { $0 == 3 }), 3)
        try waitUntil(timeout: 30) { (try? cluster.broker().messageCount(queue: cluster.queues.report)) == 0 }
        XCTAssertEqual(try queuedStudies(), 0)
        XCTAssertEqual(try cluster.tables().rowCounts()["series"], 6, "one set of rows")
        XCTAssertTrue(cluster.log(of: reporter).contains("reconnecting") || cluster.log(of: reporter).contains("cannot connect"),
                      "the reporter lived through the restart")
        XCTAssertTrue(cluster.isRunning(ingest) && cluster.isRunning(reporter))
    }

    func testPostgresStoppedTenSecondsWhileTheReporterHasMessages() throws {
        try ServerControl.requireOwnServers()
        let cluster = try FleetCluster()
        self.cluster = cluster
        let export = try makeExport(patients: ["00301", "00302", "00303"])
        let ingest = try cluster.start("ingest")
        let reporter = try cluster.start("reporter")
        try waitUntil { cluster.log(of: ingest).contains("consuming") && cluster.log(of: reporter).contains("consuming") }
        defer { try? ServerControl.run("start-postgres") }
        try ServerControl.run("stop-postgres")
        let stopped = Date()
        XCTAssertEqual(try cluster.runToCompletion("ingest", ["enqueue", export.path]).status, 0)
        let broker = try cluster.broker()
        defer { broker.close() }
        // The ingest worker keeps working; its three events wait with the reporter while the database is down.
        try waitUntil(timeout: 60) { (try? broker.messageCount(queue: cluster.queues.segment)) == 6 }
        Thread.sleep(forTimeInterval: max(0, 10 - Date().timeIntervalSince(stopped)))
        try ServerControl.run("start-postgres")
        XCTAssertEqual(try cluster.waitForRows(timeout: 90, studyCount, until: { $0 == 3 }), 3)
        XCTAssertEqual(try cluster.tables().failures(), [], "nothing was given up")
        XCTAssertEqual(try broker.messageCount(queue: QueueNames.deadLetter(of: cluster.queues.report)), 0)
        XCTAssertTrue(cluster.log(of: reporter).contains("transient failure: retrying"))
        XCTAssertTrue(cluster.isRunning(reporter))
    }
}
