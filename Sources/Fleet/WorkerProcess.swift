import Dispatch
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// What an executable's `work` command calls: logging, `/metrics` + `/healthz`, signals, and the worker loop.
public enum WorkerProcess {
    /// Structured logs on stderr (key=value metadata; identifiers only, never patient names), once per process.
    public static func bootstrapLogging(level: String) {
        let logLevel = Logger.Level(rawValue: level) ?? .info
        LoggingSystemOnce.bootstrap(logLevel)
    }

    /// Runs `stage` until SIGTERM or SIGINT: stop consuming, let the current job finish within the grace period
    /// (MGMT_SHUTDOWN_GRACE), else close the connection so the broker requeues it; then return (exit status 0).
    public static func run<S: Stage>(_ stage: S, configuration: FleetConfiguration, logger: Logger) throws {
        let worker = try Worker(stage: stage, options: try WorkerOptions(configuration: configuration), logger: logger)
        var server: StatusServer?
        if let port = configuration.metricsPort {
            server = try StatusServer(address: configuration.metricsBindAddress, port: port,
                                      health: { worker.healthProblem }, logger: logger)
            logger.info("serving /metrics and /healthz", metadata: [
                "address": "\(configuration.metricsBindAddress)", "port": "\(server?.port ?? port)"])
        }
        let grace = configuration.shutdownGraceSeconds
        let signals = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                logger.info("stop requested: finishing the current job", metadata: [
                    "signal": "\(number)", "grace_s": "\(grace)"])
                worker.requestStop()
                DispatchQueue.global().asyncAfter(deadline: .now() + grace) {
                    logger.warning("grace period over: returning the current job to its queue")
                    worker.abandon()
                    exit(0)
                }
            }
            source.resume()
            return source
        }
        worker.run()
        signals.forEach { $0.cancel() }
        server?.stop()
    }
}

private enum LoggingSystemOnce {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var done = false

    static func bootstrap(_ level: Logger.Level) {
        lock.withLock {
            guard !done else { return }
            done = true
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }
}
