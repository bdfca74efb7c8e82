import Metrics

/// What a ``Worker`` reports through swift-metrics (what Dramatiq's Prometheus middleware gives per
/// worker process):
///
/// - `evy_worker_jobs_succeeded_total`, `evy_worker_jobs_failed_total` (each failed attempt,
///   retryable or not), `evy_worker_jobs_aborted_total` (cancelled, timed out by the dispatcher's
///   abort, or stopped with the worker): counters per `handler`, counted when the job ends here;
/// - `evy_worker_reconnects_total`: times the dispatcher went silent and the worker connected again;
/// - `evy_worker_slots`, `evy_worker_jobs_running`, `evy_worker_results_unrecorded` (sent, not yet
///   confirmed by the collector), `evy_worker_credit_withheld` (slots held back while the collector
///   is behind): gauges, read when the metrics are scraped (``Worker/updateGauges()``).
///
/// Run times are the collector's `evy_job_duration_seconds`, measured by the workers and reported
/// with each result: one histogram for the whole system.
///
/// Handler names here are the worker's own (registered in code), so each gets its counters when it
/// is registered and a job carries them: no lookup per job.
///
/// Hub-confined (the worker's hub); the instruments themselves are thread-safe.
struct WorkerMetrics {
    /// One handler's counters.
    struct Outcomes {
        let succeeded, failed, aborted: Counter
    }

    let factory: any MetricsFactory
    let reconnects: Counter
    let slots, running, unrecorded, withheldCredit: Gauge

    init(factory: any MetricsFactory) {
        self.factory = factory
        reconnects = Counter(label: "evy_worker_reconnects_total", factory: factory)
        slots = Gauge(label: "evy_worker_slots", factory: factory)
        running = Gauge(label: "evy_worker_jobs_running", factory: factory)
        unrecorded = Gauge(label: "evy_worker_results_unrecorded", factory: factory)
        withheldCredit = Gauge(label: "evy_worker_credit_withheld", factory: factory)
    }

    /// The counters of `handler`'s jobs.
    func outcomes(of handler: String) -> Outcomes {
        let dimensions = [("handler", handler)]
        return Outcomes(
            succeeded: Counter(label: "evy_worker_jobs_succeeded_total", dimensions: dimensions, factory: factory),
            failed: Counter(label: "evy_worker_jobs_failed_total", dimensions: dimensions, factory: factory),
            aborted: Counter(label: "evy_worker_jobs_aborted_total", dimensions: dimensions, factory: factory))
    }
}
