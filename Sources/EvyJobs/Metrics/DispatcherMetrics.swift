import Metrics

/// What a ``Dispatcher`` reports through swift-metrics, under Prometheus-style names:
///
/// - `evy_jobs_submitted_total`, `evy_jobs_done_total`, `evy_jobs_failed_total` (each failed
///   attempt), `evy_jobs_retried_total`, `evy_jobs_dead_total`, `evy_jobs_cancelled_total`: counters
///   per `handler`;
/// - `evy_lease_expiries_total`: leases ended because their worker was lost;
/// - `evy_queue_depth` (per `handler` and `priority`: jobs ready or waiting for their concurrency
///   key), `evy_jobs_delayed`, `evy_jobs_in_flight`, `evy_workers`: gauges, read when the metrics
///   are scraped (``Dispatcher/updateGauges()``);
/// - `evy_journal_commit_seconds`: a timer (histogram) of the journal's group commits.
///
/// Hub-confined (the dispatcher's hub), except the commit timer, which the journal thread records.
struct DispatcherMetrics {
    var submitted, done, failed, retried, dead, cancelled: HandlerCounters
    let leaseExpiries: Counter
    var queueDepth: GaugeFamily
    let delayed, inFlight, workers: Gauge
    let journalCommit: Metrics.Timer

    init(factory: any MetricsFactory) {
        submitted = HandlerCounters("evy_jobs_submitted_total", factory: factory)
        done = HandlerCounters("evy_jobs_done_total", factory: factory)
        failed = HandlerCounters("evy_jobs_failed_total", factory: factory)
        retried = HandlerCounters("evy_jobs_retried_total", factory: factory)
        dead = HandlerCounters("evy_jobs_dead_total", factory: factory)
        cancelled = HandlerCounters("evy_jobs_cancelled_total", factory: factory)
        leaseExpiries = Counter(label: "evy_lease_expiries_total", factory: factory)
        queueDepth = GaugeFamily("evy_queue_depth", dimensions: ["handler", "priority"], factory: factory)
        delayed = Gauge(label: "evy_jobs_delayed", factory: factory)
        inFlight = Gauge(label: "evy_jobs_in_flight", factory: factory)
        workers = Gauge(label: "evy_workers", factory: factory)
        journalCommit = Metrics.Timer(label: "evy_journal_commit_seconds", dimensions: [("role", "dispatcher")], factory: factory)
    }
}

/// What a ``Collector`` reports through swift-metrics:
///
/// - `evy_results_recorded_total` per `handler` and `status`; `evy_results_duplicate_total`,
///   `evy_results_forged_total` (refused: a result for a job its sender was not given),
///   `evy_messages_malformed_total`;
/// - `evy_job_duration_seconds` per `handler`: a timer (histogram) of the run times workers report;
/// - `evy_journal_commit_seconds` (role `collector`): the store's group commits.
///
/// Hub-confined (the collector's hub), except the commit timer.
struct CollectorMetrics {
    let factory: any MetricsFactory
    private var recorded: [[String]: Counter] = [:]
    private var durations: [String: Metrics.Timer] = [:]
    let duplicates, forged, malformed: Counter
    let journalCommit: Metrics.Timer

    init(factory: any MetricsFactory) {
        self.factory = factory
        duplicates = Counter(label: "evy_results_duplicate_total", factory: factory)
        forged = Counter(label: "evy_results_forged_total", factory: factory)
        malformed = Counter(label: "evy_messages_malformed_total", dimensions: [("role", "collector")], factory: factory)
        journalCommit = Metrics.Timer(label: "evy_journal_commit_seconds", dimensions: [("role", "collector")], factory: factory)
    }

    /// Counts one new result and records its run time (`microseconds` as the worker measured it).
    mutating func record(handler: String, status: String, microseconds: UInt64) {
        let name = durations.count < HandlerCounters.maximumHandlers || durations[handler] != nil ? handler : "other"
        let key = [name, status]
        let counter =
            recorded[key]
            ?? Counter(label: "evy_results_recorded_total", dimensions: [("handler", name), ("status", status)], factory: factory)
        recorded[key] = counter
        counter.increment()
        let timer =
            durations[name] ?? Metrics.Timer(label: "evy_job_duration_seconds", dimensions: [("handler", name)], factory: factory)
        durations[name] = timer
        timer.recordMicroseconds(microseconds)
    }
}
