import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

public enum StatusServerError: Error, CustomStringConvertible {
    case cannotListen(address: String, port: Int, reason: String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let port, let reason):
            return "status server: cannot listen on \(address):\(port): \(reason)"
        }
    }
}

/// `/metrics` (Prometheus text) and `/healthz` over HTTP/1.1 on Hummingbird. Connections are served concurrently
/// on an event loop, and each must deliver its whole request within `requestDeadline` (or is closed), so idle or
/// byte-dripping clients neither delay a health check nor hold resources for long.
public final class StatusServer: Sendable {
    /// Answers `/healthz`: nil when healthy, else the reason (served as 503).
    public typealias HealthCheck = @Sendable () -> String?

    /// The bound port (the chosen one when 0 was asked for).
    public let port: Int
    private let group: ServiceGroup
    private let service: Task<Void, Never>

    /// Binds `address`:`port` (0: any free port) and starts serving; throws if it cannot listen.
    public init(address: String = "127.0.0.1", port requested: Int, requestDeadlineSeconds: Double = 5,
                health: @escaping HealthCheck, logger: Logger) throws(StatusServerError)
    {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: FleetMetrics.prometheusText())))
        }
        router.get("/healthz") { _, _ in
            let problem = health()
            return Response(status: problem == nil ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: (problem ?? "ok") + "\n")))
        }
        let started = StartSignal()
        let deadline = TimeAmount.milliseconds(Int64(requestDeadlineSeconds * 1000))
        let application = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [RequestDeadlineHandler(deadline: deadline)])),
            configuration: ApplicationConfiguration(address: .hostname(address, port: requested)),
            onServerRunning: { channel in started.set(.success(channel.localAddress?.port ?? requested)) },
            logger: logger)
        // No signal handling here: the worker process owns SIGTERM and stops the server itself.
        let group = ServiceGroup(services: [application], logger: logger)
        self.group = group
        service = Task {
            do {
                try await group.run()
            } catch {
                // A failure to start is thrown by the initialiser; a later one is only logged.
                if !started.set(.failure(error)) {
                    logger.error("status server stopped", metadata: ["error": "\(error)"])
                }
            }
        }
        switch started.wait(timeout: 30) {
        case .success(let port):
            self.port = port
        case .failure(let error):
            service.cancel()
            throw .cannotListen(address: address, port: requested, reason: "\(error)")
        case nil:
            service.cancel()
            throw .cannotListen(address: address, port: requested, reason: "not listening after 30 s")
        }
    }

    /// Stops listening and returns once the open connections are closed (at most the request deadline).
    public func stop() {
        let stopped = DispatchSemaphore(value: 0)
        Task { [group, service] in
            await group.triggerGracefulShutdown()
            await service.value
            stopped.signal()
        }
        _ = stopped.wait(timeout: .now() + 10)
    }
}

/// Closes a connection that has not delivered a complete request within `deadline` of connecting (or of the
/// previous response): the whole request, however slowly its bytes arrive, not each read.
private final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    // The parts pass through untouched; only their arrival times matter.
    typealias InboundIn = Any
    typealias InboundOut = Any
    typealias OutboundIn = Any
    typealias OutboundOut = Any

    private let deadline: TimeAmount
    private var timer: Scheduled<Void>?

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    /// The first byte of the response means the request was read in time; the next request gets a new deadline
    /// once this response is flushed.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        disarm()
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        arm(context)
    }

    private func arm(_ context: ChannelHandlerContext) {
        disarm()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: deadline) { channel.close(promise: nil) }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

/// The listening port or the failure, handed from the server task to the initialiser.
private final class StartSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var result: Result<Int, any Error>?

    /// Records the first result only; returns whether this was it.
    @discardableResult
    func set(_ value: Result<Int, any Error>) -> Bool {
        condition.withLock {
            defer { condition.broadcast() }
            guard result == nil else { return false }
            result = value
            return true
        }
    }

    func wait(timeout: Double) -> Result<Int, any Error>? {
        let until = Date().addingTimeInterval(timeout)
        return condition.withLock {
            while result == nil, condition.wait(until: until) {}
            return result
        }
    }
}
