import Broker
import Foundation
import Logging

/// What every worker needs from the configuration.
public struct WorkerOptions: Sendable {
    public var amqpURL: String
    public var exchange: String
    public var queues: QueueNames
    public var deliveryLimit: Int
    public var prefetch: Int
    public var heartbeatSeconds: Int
    public var transientRetries: Int
    public var retryBackoffSeconds: Double
    public var storeRoot: String

    public init(configuration: FleetConfiguration) throws(ConfigurationError) {
        amqpURL = try configuration.requireAMQPURL()
        exchange = configuration.exchange
        queues = configuration.queues
        deliveryLimit = configuration.deliveryLimit
        prefetch = configuration.prefetch
        heartbeatSeconds = configuration.heartbeatSeconds
        transientRetries = configuration.transientRetries
        retryBackoffSeconds = configuration.retryBackoffSeconds
        storeRoot = configuration.storeRoot
    }

    /// The topology every worker checks at start: the broker definitions create it (scripts/rabbitmq-definitions.py,
    /// which `BrokerDefinitionsTests` hold to this); a user allowed to configure (the admin, in tests) declares it.
    public var topology: Topology {
        Topology(exchange: exchange, queues: queues.all.map {
            QueueSpec(name: $0, routingKeys: queues.routingKeys(of: $0), deliveryLimit: deliveryLimit)
        })
    }
}

/// The loop every executable runs: consume → run the stage → (the stage stores its output) → publish the next
/// messages and wait for their confirms → ack. A `BrokerConnection` owns the socket on its own thread, so
/// heartbeats go on while a model runs here for minutes. Failures:
/// - undecodable message → rejected to the dead-letter queue (the reporter records it);
/// - permanent stage failure → the stage's failure event is published, then the delivery is acked;
/// - transient failure → retried here with exponential backoff, then requeued (the queue's delivery limit
///   dead-letters a message that keeps failing, so nothing crash-loops);
/// - stop (SIGTERM) before the job is done → a copy of the message goes back to its queue and the delivery is
///   acked, so a graceful stop does not count against the delivery limit (only crashes and failures do);
/// - broker connection lost → reconnect with backoff; unacked deliveries come back from the broker, and since job
///   ids are deterministic the redone work overwrites the same artifacts and the reporter's upserts collapse.
public final class Worker<S: Stage>: @unchecked Sendable {
    public let stage: S
    private let options: WorkerOptions
    private let store: ArtifactStore
    private let metrics: FleetMetrics
    private let logger: Logger
    private let state = NSCondition()
    private var stopRequested = false
    private var brokerProblem: String? = "not connected yet"
    private var handled = 0
    private var connection: BrokerConnection?
    /// The delivery whose job is running, and whether `abandon()` has handed it back to its queue.
    private var inFlight: Delivery?
    private var abandoned = false
    private let workspaces: JobWorkspaces

    public init(stage: S, options: WorkerOptions, logger: Logger) throws {
        self.stage = stage
        self.options = options
        self.logger = logger
        store = try ArtifactStore(root: options.storeRoot)
        metrics = FleetMetrics(stage: stage.name)
        workspaces = JobWorkspaces(root: store.root.appendingPathComponent(".work"),
                                   ownerName: "\(stage.name)-\(getpid())", logger: logger)
        workspaces.sweepStale()
    }

    /// nil while connected and consuming; else what is wrong (served by `/healthz`).
    public var healthProblem: String? { state.withLock { brokerProblem } }

    /// Deliveries settled so far (acked, rejected or requeued).
    public var deliveriesSettled: Int { state.withLock { handled } }

    /// Stops consuming; the current job finishes (or, if the process is stopped first, is redelivered).
    public func requestStop() {
        state.withLock {
            stopRequested = true
            state.broadcast()
        }
    }

    /// Hands the running job back to its queue (a copy, then the ack) and closes the broker connection. For a
    /// shutdown whose grace period ran out while a job was still running.
    public func abandon() {
        requestStop()
        let (broker, delivery) = state.withLock { () -> (BrokerConnection?, Delivery?) in
            abandoned = true
            defer { inFlight = nil }
            return (connection, inFlight)
        }
        if let broker, let delivery {
            do {
                // No delivery may reach this consumer any more: the copy, queued before the ack frees the
                // prefetch slot, would come straight back to it and return on close as a counted delivery.
                try broker.stopConsuming()
                try requeueForStop(delivery, on: broker)
            } catch {
                // The connection closes next, so the broker requeues the delivery itself (counting a delivery).
                logger.warning("cannot hand the job back; the broker will redeliver it", metadata: ["error": "\(error)"])
            }
        }
        broker?.close()
    }

    /// A stop is not the job's fault: a copy goes to the back of its queue (confirmed) and the delivery is acked,
    /// so the broker's delivery count, which dead-letters at MGMT_DELIVERY_LIMIT, grows only with crashes and
    /// failures. The copy keeps the routing key it came with (each role may write the key of the queue it
    /// consumes; the reporter may write none, so its rare overrun goes back through the broker instead). The
    /// broker's own `x-` headers stay behind; a crash between publish and ack leaves a duplicate, which
    /// deterministic job ids and idempotent stages absorb.
    private func requeueForStop(_ delivery: Delivery, on broker: BrokerConnection) throws {
        try broker.publish([OutgoingMessage(
            routingKey: delivery.routingKey, body: delivery.body, messageID: delivery.messageID,
            contentType: delivery.contentType ?? "application/json",
            headers: delivery.headers.filter { !$0.key.hasPrefix("x-") })], to: options.exchange)
        try broker.ack(delivery)
    }

    private var isStopping: Bool { state.withLock { stopRequested } }

    /// Runs until `requestStop()`: connects (with backoff), declares the topology, consumes and handles deliveries.
    public func run() {
        var backoff = options.retryBackoffSeconds
        while !isStopping {
            let broker: BrokerConnection
            do {
                broker = try connect()
                backoff = options.retryBackoffSeconds
            } catch {
                setProblem("broker: \(error)")
                logger.warning("cannot connect to the broker; retrying", metadata: [
                    "error": "\(error)", "retry_in_s": "\(backoff)"])
                pause(seconds: backoff)
                backoff = min(max(backoff * 2, 0.5), 30)
                continue
            }
            do {
                while !isStopping {
                    guard let delivery = try broker.nextDelivery(timeout: 0.25) else { continue }
                    try handle(delivery, on: broker)
                }
                try? broker.stopConsuming()
            } catch {
                setProblem("broker: \(error)")
                logger.warning("broker connection lost; reconnecting", metadata: ["error": "\(error)"])
                pause(seconds: backoff)
            }
            broker.close()
            state.withLock { connection = nil }
        }
        workspaces.close()
        setProblem("stopped")
        logger.info("worker stopped", metadata: ["stage": "\(stage.name)"])
    }

    private func connect() throws -> BrokerConnection {
        let broker = try BrokerConnection(
            url: options.amqpURL, options: BrokerOptions(heartbeat: options.heartbeatSeconds), logger: logger)
        do {
            try broker.declare(options.topology)
            for queue in stage.consumedQueues(options.queues) {
                try broker.startConsuming(queue: queue, prefetch: options.prefetch)
            }
        } catch {
            broker.close()
            throw error
        }
        state.withLock {
            connection = broker
            brokerProblem = nil
        }
        logger.info("consuming", metadata: [
            "stage": "\(stage.name)", "queues": "\(stage.consumedQueues(options.queues))",
            "prefetch": "\(options.prefetch)"])
        return broker
    }

    private func handle(_ delivery: Delivery, on broker: BrokerConnection) throws {
        let incoming = IncomingMessage(body: delivery.body, queue: delivery.queue,
                                       routingKey: delivery.firstDeathRoutingKey ?? delivery.routingKey,
                                       headers: delivery.headers, redelivered: delivery.redelivered)
        var log = logger
        log[metadataKey: "queue"] = "\(delivery.queue)"
        if let count = delivery.deliveryCount { log[metadataKey: "delivery_count"] = "\(count)" }
        let job: S.Job
        do {
            job = try stage.decode(incoming)
        } catch {
            log.error("undecodable message: dead-lettering it", metadata: ["reason": "\(error)"])
            try broker.reject(delivery, requeue: false)
            metrics.finished(outcome: .deadLettered, seconds: 0)
            settled()
            return
        }
        if let id = delivery.messageID { log[metadataKey: "job_id"] = "\(id)" }

        state.withLock { inFlight = delivery }
        metrics.started()
        log.info("job started", metadata: ["redelivered": "\(delivery.redelivered)"])
        let started = Date()
        var attempt = 0
        var publications: [Publication] = []
        var outcome = JobOutcome.done
        retrying: while true {
            do {
                publications = try runInWorkspace(job, logger: log)
                break retrying
            } catch {
                switch StageFailure.classify(error) {
                case .permanent(let reason):
                    log.error("job failed permanently", metadata: ["reason": "\(reason)"])
                    publications = stage.failurePublications(for: job, reason: reason)
                    outcome = .failed
                    break retrying
                case .transient(let reason):
                    attempt += 1
                    let exhausted = !stage.retriesTransientFailuresUntilSuccess && attempt > options.transientRetries
                    if exhausted || isStopping {
                        log.warning("transient failure: returning the message to the queue", metadata: [
                            "reason": "\(reason)", "attempts": "\(attempt)"])
                        guard keepsDelivery() else { return }
                        if exhausted {
                            pause(seconds: options.retryBackoffSeconds)
                            try broker.reject(delivery, requeue: true)
                        } else {
                            try requeueForStop(delivery, on: broker)
                        }
                        metrics.finished(outcome: .requeued, seconds: Date().timeIntervalSince(started))
                        settled()
                        return
                    }
                    let delay = min(options.retryBackoffSeconds * pow(2, Double(min(attempt - 1, 10))), 30)
                    log.warning("transient failure: retrying", metadata: [
                        "reason": "\(reason)", "attempt": "\(attempt)", "retry_in_s": "\(delay)"])
                    setProblem("stage: \(reason)")
                    pause(seconds: delay)
                    setProblem(nil)
                }
            }
        }
        guard keepsDelivery() else {
            log.info("job finished after the grace period: the queue has it back, its results are not published")
            return
        }
        try broker.publish(publications.map {
            OutgoingMessage(routingKey: routingKey(of: $0.destination), body: $0.body, messageID: $0.messageId)
        }, to: options.exchange)
        try broker.ack(delivery)
        let seconds = Date().timeIntervalSince(started)
        metrics.finished(outcome: outcome, seconds: seconds)
        settled()
        log.info("job finished", metadata: [
            "outcome": "\(outcome.rawValue)", "seconds": "\(String(format: "%.3f", seconds))",
            "published": "\(publications.count)"])
    }

    /// Status events go out under this stage's own report key; jobs under their queue's name.
    private func routingKey(of destination: QueueRole) -> String {
        destination == .report ? options.queues.reportKey(of: stage.name) : options.queues.name(of: destination)
    }

    /// Whether the delivery is still this thread's to settle (false once `abandon()` handed it back).
    private func keepsDelivery() -> Bool {
        state.withLock {
            guard !abandoned else { return false }
            inFlight = nil
            return true
        }
    }

    private func runInWorkspace(_ job: S.Job, logger: Logger) throws -> [Publication] {
        let workspace: URL
        do {
            workspace = try workspaces.makeWorkspace()
        } catch {
            throw StageFailure.transient("cannot create a job workspace in \(workspaces.root.path): \(error)")
        }
        defer { try? FileManager.default.removeItem(at: workspace) }
        return try stage.run(job, context: StageContext(store: store, workspace: workspace, logger: logger))
    }

    private func settled() {
        state.withLock { handled += 1 }
    }

    private func setProblem(_ problem: String?) {
        state.withLock { brokerProblem = problem }
    }

    /// Sleeps, waking early on `requestStop()`.
    private func pause(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        state.withLock {
            while !stopRequested, state.wait(until: deadline) {}
        }
    }
}
