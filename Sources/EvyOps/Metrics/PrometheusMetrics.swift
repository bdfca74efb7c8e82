import Metrics
import Prometheus

/// One role's metrics registry and the swift-metrics factory that fills it, with histogram
/// buckets fit for a job system (journal commits from 100 µs, job durations from 1 ms to 10 min).
///
/// Give ``factory`` to a role's configuration (`Dispatcher.Configuration.metrics`…) and serve
/// ``exposition()`` at `/metrics`. Thread-safe: the registry locks; scrapes and updates may come
/// from any thread.
public struct PrometheusMetrics: Sendable {
    /// Where the role's counters, gauges and histograms live.
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory writing into ``registry``.
    public let factory: PrometheusMetricsFactory

    /// A fresh registry (not Prometheus' global one, so several roles can share a process).
    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["evy_journal_commit_seconds"] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .seconds(1),
        ]
        factory.durationHistogramBuckets["evy_job_duration_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
            .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
            .seconds(600),
        ]
        self.factory = factory
    }

    /// The registry in Prometheus' text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }
}
