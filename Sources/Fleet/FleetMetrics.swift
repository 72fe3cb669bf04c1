import Foundation
import Metrics
import Prometheus

/// The worker metrics, recorded through swift-metrics and exposed in Prometheus text by `StatusServer`.
/// swift-metrics has one process-wide backend, bootstrapped on first use.
public struct FleetMetrics: Sendable {
    /// The process's Prometheus registry (what `/metrics` prints).
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Stages run from milliseconds (ingest of a small series) to minutes (UNet++ on a long series).
        factory.durationHistogramBuckets["mgmt_stage_seconds"] = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
            .map { Duration.milliseconds(Int64($0 * 1000)) }
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    public let stage: String
    private let done: Metrics.Counter
    private let failed: Metrics.Counter
    private let retried: Metrics.Counter
    private let seconds: Metrics.Timer
    private let inFlight: Metrics.Meter

    public init(stage: String) {
        _ = Self.registry
        self.stage = stage
        done = Metrics.Counter(label: "mgmt_jobs_total", dimensions: [("stage", stage), ("outcome", "done")])
        failed = Metrics.Counter(label: "mgmt_jobs_total", dimensions: [("stage", stage), ("outcome", "failed")])
        retried = Metrics.Counter(label: "mgmt_jobs_total", dimensions: [("stage", stage), ("outcome", "requeued")])
        seconds = Metrics.Timer(label: "mgmt_stage_seconds", dimensions: [("stage", stage)])
        inFlight = Metrics.Meter(label: "mgmt_jobs_in_flight", dimensions: [("stage", stage)])
        inFlight.set(0)
    }

    public func started() { inFlight.increment() }

    public func finished(outcome: JobOutcome, seconds elapsed: Double) {
        inFlight.decrement()
        seconds.recordNanoseconds(Int64(elapsed * 1e9))
        switch outcome {
        case .done: done.increment()
        case .failed, .deadLettered: failed.increment()
        case .requeued: retried.increment()
        }
    }

    public static func prometheusText() -> String {
        registry.emitToString()
    }
}

/// mgmt_status_events_refused_total: status events the reporter refused because they came under another stage's
/// report key (a compromised or misconfigured publisher). Made when the reporter starts, so it shows 0 until then.
public struct RefusedStatusEvents: Sendable {
    private let counter: Metrics.Counter

    public init() {
        _ = FleetMetrics.registry
        counter = Metrics.Counter(label: "mgmt_status_events_refused_total")
    }

    public func increment() { counter.increment() }
}

/// How a job ended, for metrics and logs.
public enum JobOutcome: String, Sendable {
    /// Output stored, next message confirmed, delivery acked.
    case done
    /// A permanent failure: `failed` status event confirmed, delivery acked.
    case failed
    /// Undecodable: rejected to the dead-letter queue.
    case deadLettered
    /// A transient failure after the in-process retries: back to the queue (the delivery limit bounds this).
    case requeued
}
