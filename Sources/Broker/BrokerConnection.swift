import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Timeouts and limits of a broker connection. Seconds throughout.
public struct BrokerOptions: Sendable {
    /// TCP connect and AMQP handshake, each.
    public var connectTimeout: Double = 10
    /// Heartbeat interval asked of the server (it may choose less); 0 disables heartbeats.
    public var heartbeat: Int = 30
    /// A management call (declare, purge, get, ...) without an answer in this time closes the connection.
    public var rpcTimeout: Double = 30
    /// Publisher confirms: no confirm for this long while messages are outstanding closes the connection.
    public var confirmTimeout: Double = 30
    /// Published messages allowed in flight before waiting for confirms.
    public var publishWindow: Int = 256
    /// Shown by `rabbitmqctl list_connections name` and the management UI.
    public var connectionName: String = ProcessInfo.processInfo.processName
    /// CA and client certificate for an `amqps://` URL; nil takes them from MGMT_AMQP_TLS_* (`BrokerTLS.forURL`).
    public var tls: BrokerTLS?

    public init(connectTimeout: Double = 10, heartbeat: Int = 30, rpcTimeout: Double = 30,
                confirmTimeout: Double = 30, publishWindow: Int = 256,
                connectionName: String = ProcessInfo.processInfo.processName, tls: BrokerTLS? = nil) {
        self.connectTimeout = connectTimeout
        self.heartbeat = heartbeat
        self.rpcTimeout = rpcTimeout
        self.confirmTimeout = confirmTimeout
        self.publishWindow = publishWindow
        self.connectionName = connectionName
        self.tls = tls
    }
}

/// A RabbitMQ connection owned by one background thread, usable from any thread.
///
/// rabbitmq-c is not thread-safe and sends heartbeats only while one of its calls runs. So one thread (started
/// by `init`, ended by `close()`) owns the connection: it runs each request made through this class's methods,
/// one at a time, and between requests keeps reading the socket, which sends and checks heartbeats and buffers
/// deliveries. A worker thread can therefore spend minutes on a job between `nextDelivery` and `ack` without
/// the broker dropping the connection.
///
/// The calls block the calling thread until the owner thread has done the work (for `publish`, until every
/// message is confirmed). After a fatal error (`BrokerError.requiresReconnect`) every call throws that error:
/// close this instance and open a new one; reconnect policy (backoff) belongs to the caller. Unacknowledged
/// deliveries of a lost or closed connection are redelivered by the broker.
///
/// A typical worker:
/// ```
/// let broker = try BrokerConnection(url: AMQPURL(parsing: env), logger: logger)
/// try broker.declare(topology)
/// try broker.startConsuming(queue: "segment", prefetch: 1)
/// while running {
///     guard let delivery = try broker.nextDelivery(timeout: 1) else { continue }
///     let next = try runStage(delivery.body)              // on this thread; heartbeats continue meanwhile
///     try broker.publish(next, to: topology.exchange)     // returns once confirmed
///     try broker.settle(delivery, .ack)
/// }
/// broker.close()
/// ```
public final class BrokerConnection: Sendable {
    private let owner: ConnectionOwner

    /// Connects (on the calling thread, so errors surface here), then hands the connection to its owner thread.
    public init(url: AMQPURL, options: BrokerOptions = BrokerOptions(), logger: Logger = Logger(label: "Broker"))
        throws
    {
        let connection = try AMQPConnection(url: url, options: options, logger: logger)
        owner = try ConnectionOwner(connection: connection, heartbeat: options.heartbeat, logger: logger)
    }

    /// Parses `url` (see `AMQPURL`) and connects.
    public convenience init(url: String, options: BrokerOptions = BrokerOptions(),
                            logger: Logger = Logger(label: "Broker")) throws {
        try self.init(url: AMQPURL(parsing: url), options: options, logger: logger)
    }

    deinit {
        owner.stop()
    }

    /// The error that ended this connection, or nil while it is usable.
    public var failure: BrokerError? { owner.failure }

    public var isOpen: Bool { owner.failure == nil }

    /// Declares exchanges, quorum queues with dead-lettering and delivery limits, and bindings (idempotent).
    public func declare(_ topology: Topology) throws {
        try owner.perform { try $0.declare(topology) }
    }

    /// Publishes the messages to `exchange` (persistent, mandatory), several in flight, and returns once the broker
    /// has confirmed all of them. Throws `unroutable` if no queue took one, `publishNacked` if the broker refused.
    public func publish(_ messages: [OutgoingMessage], to exchange: String) throws {
        try owner.perform { try $0.publish(messages, exchange: exchange) }
    }

    public func publish(_ message: OutgoingMessage, to exchange: String) throws {
        try publish([message], to: exchange)
    }

    /// Starts delivering `queue`'s messages, at most `prefetch` unacknowledged at a time; read them with
    /// `nextDelivery`.
    public func startConsuming(queue: String, prefetch: Int) throws {
        try owner.perform { try $0.startConsuming(queue: queue, prefetch: prefetch) }
    }

    /// Stops new deliveries (e.g. on SIGTERM). Deliveries already received can still be settled; closing the
    /// connection returns unsettled ones to their queue.
    public func stopConsuming() throws {
        try owner.perform { try $0.stopConsuming() }
    }

    /// The next delivery from the consumed queues, waiting at most `timeout` seconds (nil: no limit); nil if none
    /// arrived in time. Throws the connection's failure once it is lost.
    public func nextDelivery(timeout: Double?) throws -> Delivery? {
        try owner.nextDelivery(timeout: timeout)
    }

    /// Acknowledges (`.ack`) or rejects a delivery of this connection. Rejecting with `requeue: false` sends it
    /// to its queue's dead-letter queue; with `requeue: true` it comes back (counted against the delivery limit).
    public func settle(_ delivery: Delivery, _ disposition: Disposition) throws {
        try owner.perform { try $0.settle(delivery, disposition) }
    }

    public func ack(_ delivery: Delivery) throws {
        try settle(delivery, .ack)
    }

    public func reject(_ delivery: Delivery, requeue: Bool) throws {
        try settle(delivery, .reject(requeue: requeue))
    }

    public func nack(_ delivery: Delivery, multiple: Bool = false, requeue: Bool) throws {
        try settle(delivery, .nack(multiple: multiple, requeue: requeue))
    }

    /// One message by basic.get (for tools and tests), to be settled like a consumed one; nil if the queue is empty.
    public func get(queue: String) throws -> Delivery? {
        try owner.perform { try $0.get(queue: queue) }
    }

    /// Messages ready in `queue` (not counting unacknowledged ones). A missing queue throws `operationFailed` (404).
    public func messageCount(queue: String) throws -> Int {
        try status(of: queue).ready
    }

    /// What `queue` holds and who reads it. A missing queue throws `operationFailed` (404).
    public func status(of queue: String) throws -> QueueStatus {
        try owner.perform { try $0.status(of: queue) }
    }

    /// Removes the ready messages of `queue`; returns how many.
    @discardableResult
    public func purge(queue: String) throws -> Int {
        try owner.perform { try $0.purge(queue: queue) }
    }

    /// Deletes `queue` with its messages; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ queue: String) throws -> Int {
        try owner.perform { try $0.deleteQueue(queue) }
    }

    public func deleteExchange(_ exchange: String) throws {
        try owner.perform { try $0.deleteExchange(exchange) }
    }

    /// Deletes a topology's queues, their dead-letter queues and its exchanges (tests and tools).
    public func delete(_ topology: Topology) throws {
        for queue in topology.queues {
            try deleteQueue(queue.name)
            try deleteQueue(queue.deadLetterQueue)
        }
        try deleteExchange(topology.exchange)
        try deleteExchange(topology.deadLetterExchange)
    }

    /// Closes the connection politely and ends the owner thread; waits for both. Safe to call more than once.
    public func close() {
        owner.stop()
    }
}

/// The owner thread and the queues between it and callers. Requests and deliveries cross threads only under
/// `condition`; the AMQPConnection itself is touched only by the owner thread after `init`.
final class ConnectionOwner: @unchecked Sendable {
    private struct Request {
        /// Runs the call and returns the hand-over of its result, so that a call which breaks the connection
        /// is answered only after the failure is recorded (a caller that sees the error also sees `failure`).
        let run: (AMQPConnection) -> () -> Void
        let cancel: (BrokerError) -> Void
    }

    private let condition = NSCondition()
    private var requests: [Request] = []
    private var deliveries: [Delivery] = []
    private var stopRequested = false
    private var finished = false
    private var endError: BrokerError?

    private let connection: AMQPConnection
    private let wakePipe: WakePipe
    private let pollInterval: Double
    private let logger: Logger

    init(connection: AMQPConnection, heartbeat: Int, logger: Logger) throws {
        self.connection = connection
        self.logger = logger
        wakePipe = try WakePipe()
        // Short enough to send heartbeats on time (rabbitmq-c sends them once the interval is due).
        pollInterval = heartbeat > 0 ? min(0.25, Double(heartbeat) / 4) : 0.25
        let thread = Thread { [self] in run() }
        thread.name = "amqp-\(connection.endpoint)"
        thread.start()
    }

    var failure: BrokerError? {
        condition.lock()
        defer { condition.unlock() }
        return endError
    }

    /// Runs `body` on the owner thread and waits for its result.
    func perform<T>(_ body: @escaping (AMQPConnection) throws -> T) throws -> T {
        let completion = Completion<T>()
        condition.lock()
        if let endError {
            condition.unlock()
            throw endError
        }
        requests.append(Request(run: { connection in
                                    let result = Result { try body(connection) }
                                    return { completion.finish(result) }
                                },
                                cancel: { completion.finish(.failure($0)) }))
        condition.unlock()
        wakePipe.wake()
        return try completion.wait()
    }

    func nextDelivery(timeout: Double?) throws -> Delivery? {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let endError { throw endError }
            if !deliveries.isEmpty { return deliveries.removeFirst() }
            if let deadline {
                if !condition.wait(until: deadline) && deliveries.isEmpty {
                    if let endError { throw endError }
                    return nil
                }
            } else {
                condition.wait()
            }
        }
    }

    func stop() {
        condition.lock()
        stopRequested = true
        condition.unlock()
        wakePipe.wake()
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }

    // MARK: Owner thread

    private func run() {
        while true {
            condition.lock()
            let batch = requests
            requests.removeAll()
            let stopping = stopRequested
            condition.unlock()
            if stopping && batch.isEmpty { break }

            for (index, request) in batch.enumerated() {
                let answer = request.run(connection)
                if let error = connection.brokenError {
                    end(with: error, answering: answer, cancelling: batch[(index + 1)...])
                    return
                }
                answer()
            }
            handOverDeliveries()
            do {
                try connection.service(waitingUpTo: pollInterval, wakeDescriptor: wakePipe.readDescriptor)
                wakePipe.drain()
            } catch {
                return end(with: connection.brokenError ?? .connectionLost("\(error)"))
            }
            handOverDeliveries()
        }
        connection.close()
        end(with: .closed)
    }

    private func handOverDeliveries() {
        guard !connection.deliveries.isEmpty else { return }
        condition.lock()
        deliveries.append(contentsOf: connection.deliveries)
        condition.broadcast()
        condition.unlock()
        connection.deliveries.removeAll()
    }

    /// Records `error` as the connection's end, then answers the call that ended it (if any) and fails every
    /// other waiting caller; deliveries not yet taken are dropped (the broker redelivers them).
    private func end(with error: BrokerError, answering answer: (() -> Void)? = nil,
                     cancelling unrun: ArraySlice<Request> = []) {
        connection.close()
        condition.lock()
        endError = error
        finished = true
        let abandoned = Array(unrun) + requests
        requests.removeAll()
        deliveries.removeAll()
        condition.broadcast()
        condition.unlock()
        answer?()
        abandoned.forEach { $0.cancel(error) }
        if error != .closed { logger.warning("RabbitMQ connection ended", metadata: ["error": "\(error)"]) }
    }
}

/// One request's result, handed from the owner thread to the waiting caller.
private final class Completion<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<T, Error>?

    func finish(_ result: Result<T, Error>) {
        condition.lock()
        self.result = result
        condition.signal()
        condition.unlock()
    }

    func wait() throws -> T {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let result { return try result.get() }
            condition.wait()
        }
    }
}

/// A self-pipe that interrupts the owner thread's poll() when a request arrives.
private final class WakePipe: @unchecked Sendable {
    let readDescriptor: Int32
    private let writeDescriptor: Int32

    init() throws {
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else {
            throw BrokerError.connectionFailed(endpoint: "local", reason: "cannot create a pipe (errno \(errno))")
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        }
    }

    deinit {
        close(readDescriptor)
        close(writeDescriptor)
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(writeDescriptor, &byte, 1)  // a full pipe already means "awake"
    }

    func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(readDescriptor, &buffer, buffer.count) > 0 {}
    }
}
