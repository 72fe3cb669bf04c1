import Broker
import Domain
import Fleet
import Foundation
import Logging
import XCTest

/// A stage whose behaviour each test chooses; the broker it talks to is the real RabbitMQ.
struct ScriptedSegmentStage: Stage {
    typealias Job = SegmentJob
    let name = "segment"
    let behaviour: @Sendable (SegmentJob, StageContext) throws -> Void

    func consumedQueues(_ names: QueueNames) -> [String] { [names.segment] }

    func run(_ job: SegmentJob, context: StageContext) throws -> [Publication] {
        try behaviour(job, context)
        let marker = try context.store.put(Data(job.jobId.utf8), key: "segment/\(job.jobId)/done")
        return [Publication(.report, StatusEvent(jobId: job.jobId, stage: name,
                                                 .segmented(job.series, weightsSha256: marker.sha256)))]
    }

    func failurePublications(for job: SegmentJob, reason: String) -> [Publication] {
        [Publication(.report, StatusEvent(jobId: job.jobId, stage: name, .failed(.series(job.series), error: reason)))]
    }
}

/// A stage on the report queue (as the reporter) that runs `behaviour` for each status event.
struct ScriptedReportStage: Stage {
    typealias Job = StatusEvent
    let name = "report"
    let behaviour: @Sendable () -> Void

    func consumedQueues(_ names: QueueNames) -> [String] { [names.report] }

    func run(_ job: StatusEvent, context: StageContext) throws -> [Publication] {
        behaviour()
        return []
    }

    func failurePublications(for job: StatusEvent, reason: String) -> [Publication] { [] }
}

/// A private topology (unique names) on the shared RabbitMQ, a store directory, and a running worker.
final class WorkerHarness: @unchecked Sendable {
    let configuration: FleetConfiguration
    let broker: BrokerConnection
    let storeRoot: URL
    private var threads: [(Thread, () -> Void)] = []

    init(extra: [String: String] = [:]) throws {
        let prefix = TestServers.uniqueName("t")
        storeRoot = FileManager.default.temporaryDirectory.appendingPathComponent("mgmt-\(prefix)")
        var environment = [
            "MGMT_AMQP_URL": try TestServers.amqpURL(), "MGMT_EXCHANGE": "\(prefix).x",
            "MGMT_QUEUE_STUDIES": "\(prefix).studies", "MGMT_QUEUE_SEGMENT": "\(prefix).segment",
            "MGMT_QUEUE_CLASSIFY": "\(prefix).classify", "MGMT_QUEUE_REPORT": "\(prefix).report",
            "MGMT_QUEUE_CLASSIFY3D": "\(prefix).classify3d",
            "MGMT_QUEUE_DELIVER": "\(prefix).deliver",
            "MGMT_STORE": storeRoot.path, "MGMT_RETRY_BACKOFF": "0.05", "MGMT_METRICS_PORT": "off",
        ]
        environment.merge(extra) { _, new in new }
        configuration = try FleetConfiguration(environment: environment)
        let options = try WorkerOptions(configuration: configuration)
        broker = try BrokerConnection(url: options.amqpURL)
        try broker.declare(options.topology)
    }

    var queues: QueueNames { configuration.queues }

    /// Starts a worker for `stage` on its own thread; `stop()` ends it.
    @discardableResult
    func start<S: Stage>(_ stage: S) throws -> Worker<S> {
        let worker = try Worker(stage: stage, options: try WorkerOptions(configuration: configuration),
                                logger: Logger(label: "test-worker"))
        let finished = NSCondition()
        nonisolated(unsafe) var done = false
        let thread = Thread {
            worker.run()
            finished.withLock { done = true; finished.broadcast() }
        }
        threads.append((thread, {
            worker.requestStop()
            finished.withLock { while !done { finished.wait() } }
        }))
        thread.start()
        return worker
    }

    func publish<M: FleetMessage>(_ message: M, to role: QueueRole) throws {
        try publish(MessageCodec.encode(message), to: role)
    }

    func publish(_ body: Data, to role: QueueRole) throws {
        try broker.publish(OutgoingMessage(routingKey: queues.name(of: role), body: body), to: configuration.exchange)
    }

    /// Takes up to `count` messages from `queue`, waiting up to `timeout` seconds for them.
    func take(_ count: Int, from queue: String, timeout: Double = 20) throws -> [Delivery] {
        var taken: [Delivery] = []
        let deadline = Date().addingTimeInterval(timeout)
        while taken.count < count, Date() < deadline {
            if let delivery = try broker.get(queue: queue) {
                try broker.ack(delivery)
                taken.append(delivery)
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        return taken
    }

    func stop() {
        threads.forEach { $0.1() }
        threads.removeAll()
        try? broker.delete(try WorkerOptions(configuration: configuration).topology)
        broker.close()
        try? FileManager.default.removeItem(at: storeRoot)
    }
}

final class WorkerTests: XCTestCase {
    private var harness: WorkerHarness?

    override func tearDown() {
        harness?.stop()
    }

    private let series = SeriesIdentity(patientId: "00007", studyInstanceUid: "1.9", seriesInstanceUid: "1.9.1",
                                        mriType: "T1w")

    func testJobIsProcessedPublishedAndAcked() throws {
        let harness = try WorkerHarness()
        self.harness = harness
        let worker = try harness.start(ScriptedSegmentStage { _, _ in })
        let job = SegmentJob(series: series, inputs: [:])
        try harness.publish(job, to: .segment)
        let events = try harness.take(1, from: harness.queues.report)
        XCTAssertEqual(events.count, 1)
        let event = try MessageCodec.decode(StatusEvent.self, from: XCTUnwrap(events.first).body)
        guard case .segmented(let identity, let marker) = event.outcome else { return XCTFail("\(event.outcome)") }
        XCTAssertEqual(identity, series)
        XCTAssertEqual(event.jobId, job.jobId)
        XCTAssertEqual(events.first?.messageID, job.jobId)
        XCTAssertEqual(worker.deliveriesSettled, 1)
        XCTAssertEqual(try harness.broker.messageCount(queue: harness.queues.segment), 0)
        // The stage's output is in the store under its job id.
        XCTAssertEqual(try ArtifactStore(root: harness.storeRoot.path)
                        .read(ArtifactRef(key: "segment/\(job.jobId)/done", sha256: marker)), Data(job.jobId.utf8))
    }

    func testMalformedMessageIsDeadLetteredAndTheWorkerGoesOn() throws {
        let harness = try WorkerHarness()
        self.harness = harness
        try harness.start(ScriptedSegmentStage { _, _ in })
        try harness.publish(Data(#"{"schema":1,"kind":"segment","job_id":"x"}"#.utf8), to: .segment)
        try harness.publish(SegmentJob(series: series, inputs: [:]), to: .segment)
        let dead = try harness.take(1, from: QueueNames.deadLetter(of: harness.queues.segment))
        XCTAssertEqual(dead.count, 1)
        XCTAssertEqual(dead.first?.headers["x-first-death-reason"], "rejected")
        XCTAssertEqual(try harness.take(1, from: harness.queues.report).count, 1, "the next job still runs")
    }

    func testPermanentFailurePublishesAFailedEventAndAcks() throws {
        let harness = try WorkerHarness()
        self.harness = harness
        try harness.start(ScriptedSegmentStage { _, _ in throw StageFailure.permanent("model error: NaN in output") })
        try harness.publish(SegmentJob(series: series, inputs: [:]), to: .segment)
        let events = try harness.take(1, from: harness.queues.report)
        let event = try MessageCodec.decode(StatusEvent.self, from: XCTUnwrap(events.first).body)
        XCTAssertEqual(event.outcome, .failed(.series(series), error: "model error: NaN in output"))
        XCTAssertEqual(try harness.broker.messageCount(queue: QueueNames.deadLetter(of: harness.queues.segment)), 0)
    }

    func testTransientFailuresAreRetriedThenDeadLetteredAtTheDeliveryLimit() throws {
        let harness = try WorkerHarness(extra: ["MGMT_RETRIES": "1", "MGMT_DELIVERY_LIMIT": "2"])
        self.harness = harness
        let attempts = Counter()
        try harness.start(ScriptedSegmentStage { _, _ in
            attempts.increment()
            throw StageFailure.transient("store unavailable")
        })
        try harness.publish(SegmentJob(series: series, inputs: [:]), to: .segment)
        let dead = try harness.take(1, from: QueueNames.deadLetter(of: harness.queues.segment), timeout: 30)
        XCTAssertEqual(dead.count, 1)
        XCTAssertEqual(dead.first?.headers["x-first-death-reason"], "delivery_limit")
        // Delivery limit 2 lets the message be delivered 3 times (the limit counts redeliveries), 2 attempts each.
        XCTAssertEqual(attempts.value, 6)
        XCTAssertEqual(try harness.broker.messageCount(queue: harness.queues.report), 0)
    }

    /// Three rolling restarts, each past the grace period, while a long job runs (delivery limit 1: one
    /// redelivery allowed). Each stop hands the job back without spending a delivery, so the fourth worker
    /// finishes it; with the broker counting each stop, the job was dead-lettered at the second.
    func testStopsPastTheGracePeriodDoNotSpendTheDeliveryLimit() throws {
        let harness = try WorkerHarness(extra: ["MGMT_DELIVERY_LIMIT": "1"])
        self.harness = harness
        let attempts = Counter()
        let stage = ScriptedSegmentStage { _, _ in
            attempts.increment()
            if attempts.value <= 3 { Thread.sleep(forTimeInterval: 2) }
        }
        try harness.publish(SegmentJob(series: series, inputs: [:]), to: .segment)
        for restart in 1...3 {
            let worker = try harness.start(stage)
            try waitUntil(timeout: 20) { attempts.value == restart }
            worker.abandon()
        }
        try harness.start(stage)
        let events = try harness.take(1, from: harness.queues.report, timeout: 30)
        XCTAssertEqual(events.count, 1, "the job finished on the fourth worker")
        XCTAssertEqual(attempts.value, 4)
        XCTAssertEqual(try harness.broker.messageCount(queue: QueueNames.deadLetter(of: harness.queues.segment)), 0)
        XCTAssertEqual(try harness.broker.messageCount(queue: harness.queues.segment), 0)
    }

    /// The stop hand-back re-publishes the message with the key it came with: a status event handed back under
    /// its queue's name would lose the sending stage (and be refused by the reporter, or by the broker).
    func testStopHandBackKeepsTheRoutingKey() throws {
        let harness = try WorkerHarness()
        self.harness = harness
        let started = Counter()
        let worker = try harness.start(ScriptedReportStage {
            started.increment()
            Thread.sleep(forTimeInterval: 2)
        })
        let key = harness.queues.reportKey(of: "segment")
        let event = StatusEvent(jobId: "handed-back", stage: "segment", .segmented(series, weightsSha256: "w"))
        try harness.broker.publish(OutgoingMessage(routingKey: key, body: MessageCodec.encode(event), messageID: "handed-back"),
                                   to: harness.configuration.exchange)
        try waitUntil(timeout: 20) { started.value == 1 }
        worker.abandon()
        let back = try XCTUnwrap(try waitForGet(harness.broker, queue: harness.queues.report))
        try harness.broker.ack(back)
        XCTAssertEqual(back.messageID, "handed-back")
        XCTAssertEqual(back.routingKey, key)
        // Never delivered before (a basic.get from a quorum queue says 0, a consumer nil): not handed to the
        // stopping worker on its way back, where closing the connection would have counted a delivery.
        XCTAssertEqual(back.deliveryCount ?? 0, 0, "\(back.headers)")
    }

    /// A worker starts by removing the workspaces of workers that are gone (their lock is free: the kernel drops
    /// a flock when its process dies, kill -9 included) and leaves a live worker's alone.
    func testStaleWorkspacesAreSweptAtStartAndLiveOnesKept() throws {
        let harness = try WorkerHarness()
        self.harness = harness
        let work = harness.storeRoot.appendingPathComponent(".work")
        let stale = work.appendingPathComponent("segment-4242-dead")
        let live = work.appendingPathComponent("ingest-4243-alive")
        for folder in [stale, live] {
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("job"), withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: folder.appendingPathComponent("owner.lock").path, contents: nil)
        }
        let held = open(live.appendingPathComponent("owner.lock").path, O_RDWR)
        XCTAssertEqual(flock(held, LOCK_EX | LOCK_NB), 0)
        defer { close(held) }
        let worker = try harness.start(ScriptedSegmentStage { _, context in
            XCTAssertEqual(context.workspace.deletingLastPathComponent().deletingLastPathComponent().path, work.path)
        })
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale.path), "the dead worker's workspace is swept")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live.path), "a live worker's workspace is kept")
        try harness.publish(SegmentJob(series: series, inputs: [:]), to: .segment)
        XCTAssertEqual(try harness.take(1, from: harness.queues.report).count, 1)
        worker.requestStop()
        try waitUntil(timeout: 10) {
            (try? FileManager.default.contentsOfDirectory(atPath: work.path)) == ["ingest-4243-alive"]
        }
    }

    /// A job whose input artifact is not in the store fails at once with that reason (one attempt, a failure
    /// event, acked): before, it was retried as transient until the delivery limit dead-lettered it.
    func testMissingArtifactFailsPermanentlyWithTheRealReason() throws {
        let harness = try WorkerHarness(extra: ["MGMT_RETRIES": "3"])
        self.harness = harness
        let attempts = Counter()
        try harness.start(ScriptedSegmentStage { job, context in
            attempts.increment()
            for (file, ref) in job.inputs { try context.store.materialize(ref, at: context.workspace.appendingPathComponent(file)) }
        })
        let missing = ArtifactRef(key: "ingest/gone/series.json", sha256: String(repeating: "0", count: 64))
        try harness.publish(SegmentJob(series: series, inputs: ["series.json": missing]), to: .segment)
        let events = try harness.take(1, from: harness.queues.report)
        let event = try MessageCodec.decode(StatusEvent.self, from: try XCTUnwrap(events.first).body)
        XCTAssertEqual(event.outcome, .failed(.series(series), error: "artifact 'ingest/gone/series.json' is not in the store"))
        XCTAssertEqual(attempts.value, 1)
        XCTAssertEqual(try harness.broker.messageCount(queue: QueueNames.deadLetter(of: harness.queues.segment)), 0)
    }

    func testHeartbeatsContinueWhileAStageRunsLongerThanTheHeartbeatTimeout() throws {
        // Heartbeat 1 s: RabbitMQ drops a connection after about two missed heartbeats. The stage holds the worker
        // thread for 5 s; the job must still be published and acked on the same connection.
        let harness = try WorkerHarness(extra: ["MGMT_HEARTBEAT": "1"])
        self.harness = harness
        let worker = try harness.start(ScriptedSegmentStage { _, _ in Thread.sleep(forTimeInterval: 5) })
        try harness.publish(SegmentJob(series: series, inputs: [:]), to: .segment)
        let events = try harness.take(1, from: harness.queues.report, timeout: 30)
        XCTAssertEqual(events.count, 1)
        XCTAssertFalse(events.first?.redelivered ?? true)
        XCTAssertNil(worker.healthProblem, "the connection stayed up")
        XCTAssertEqual(worker.deliveriesSettled, 1)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
