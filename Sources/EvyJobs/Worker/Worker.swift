import Evy
import EvyZMQ
import Foundation
import Logging
import Metrics

/// A worker: runs the jobs the dispatcher leases to it in a ``GreenPool`` whose size is its
/// credit, sends each result to the collector and keeps it until the collector says it is
/// recorded.
///
/// ```swift
/// let worker = Worker(configuration: .init(dispatcher: "tcp://dispatcher:5556", collector: "tcp://collector:5557"))
/// worker.handle("resize") { job in try await resize(job.payload) }
/// try await worker.run()
/// ```
/// - Credit: it never holds more jobs than its free slots; while `maxUnrecordedResults` results
///   wait for the collector (it is down), it takes no new jobs.
/// - Heartbeats both ways; a dispatcher silent for `liveness` heartbeats is presumed gone: the
///   worker opens a fresh socket and introduces itself again (backoff from 1 s doubling to 32 s),
///   naming the jobs it still holds.
/// - ``drain(grace:)`` (SIGTERM): takes no new jobs, lets the running ones finish within the
///   grace period, gives the others back, waits for its results to be recorded.
/// Hub-confined.
public final class Worker: @unchecked Sendable {
    /// Where to connect and how much to run at once.
    public struct Configuration: Sendable {
        /// The dispatcher's worker endpoint.
        public var dispatcher: String
        /// The collector's result endpoint.
        public var collector: String
        /// Jobs run at once (the pool size, and so the credit).
        public var slots = 100
        /// CURVE keys: the worker's pair and the dispatcher's and collector's public keys (nil:
        /// plain tcp).
        public var keys: JobKeys?
        /// How often heartbeats go out.
        public var heartbeat: Duration = .seconds(1)
        /// Heartbeats of silence before the dispatcher is presumed gone.
        public var liveness = 3
        /// Results kept for a collector that does not answer before new jobs are refused.
        public var maxUnrecordedResults = 10_000
        /// A name for logs and status (host and pid by default).
        public var name = "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        /// Where its metrics go (``WorkerMetrics``' names); nil: swift-metrics' global factory.
        public var metrics: (any MetricsFactory)?

        /// A worker of `dispatcher` and `collector` with the default settings.
        public init(dispatcher: String, collector: String) {
            self.dispatcher = dispatcher
            self.collector = collector
        }
    }

    private struct Handler {
        let run: JobHandler
        let outcomes: WorkerMetrics.Outcomes
    }

    private struct Running {
        let lease: Lease
        let handler: String
        let outcomes: WorkerMetrics.Outcomes
        let thread: GreenThread<Void>
        let started = ContinuousClock.now
    }

    public let configuration: Configuration
    private let logger = Logger(label: "evy.worker")
    /// Refused handshakes of its links, reported at most once a minute per endpoint.
    private let handshakeRefusals = HandshakeRefusals()
    private var metrics: WorkerMetrics
    private var handlers: [String: Handler] = [:]
    private var dispatcherLink: DealerLink?
    private var collectorLink: DealerLink?
    private var toDispatcher: Outbox? { dispatcherLink?.outbox }
    private var toCollector: Outbox? { collectorLink?.outbox }
    private let pool: GreenPool
    private var running: [UInt64: Running] = [:]
    /// Results sent to the collector and not yet recorded, with when they were last sent.
    private var unrecorded: [UInt64: (message: Message, sentAt: ContinuousClock.Instant)] = [:]
    /// Slots freed but held back while too many results wait for the collector.
    private var withheldCredit: UInt32 = 0
    private var pendingCredit: UInt32 = 0
    private var creditFlushScheduled = false
    private var heardFromDispatcher = ContinuousClock.now
    private var draining = false
    private let stopped = Flag()
    /// Set when a job ends or a result is recorded (what a drain waits for).
    private let progressed = Flag()
    /// Jobs run to the end (succeeded or failed) since start.
    public private(set) var completed = 0

    /// The worker's state for an operator's console, as JSON: its name, slots, whether it drains,
    /// jobs completed, results the collector has not recorded yet, credit held back, how long
    /// since the dispatcher was heard, and the jobs running now (job, attempt, handler, seconds).
    /// Hub-confined.
    public func stateJSON() -> [UInt8] {
        let now = ContinuousClock.now
        let jobs = running.values.sorted { $0.started < $1.started }.prefix(200).map { job in
            "{\"job\": \(job.lease.job), \"attempt\": \(job.lease.attempt), \"handler\": \(jsonQuoted(job.handler)), "
                + "\"runningSeconds\": \(Double((now - job.started) / .milliseconds(1)) / 1000)}"
        }
        let text =
            "{\"name\": \(jsonQuoted(configuration.name)), \"slots\": \(configuration.slots), \"draining\": \(draining), "
            + "\"completed\": \(completed), \"running\": \(running.count), \"unrecordedResults\": \(unrecorded.count), "
            + "\"withheldCredit\": \(withheldCredit), \"dispatcherHeardMsAgo\": \((now - heardFromDispatcher) / .milliseconds(1)), "
            + "\"handlers\": [\(handlers.keys.sorted().map(jsonQuoted).joined(separator: ", "))], \"jobs\": [\(jobs.joined(separator: ", "))]}"
        return Array(text.utf8)
    }

    /// A worker with `configuration`; register handlers with ``handle(_:_:)`` before ``run()``.
    public init(configuration: Configuration) {
        self.configuration = configuration
        pool = GreenPool(size: configuration.slots, name: "job slots")
        metrics = WorkerMetrics(factory: configuration.metrics ?? MetricsSystem.factory)
    }

    /// Sets the gauges (slots, running, unrecorded results, withheld credit) from the state now;
    /// the metrics endpoint calls it before each scrape. Hub-confined.
    public func updateGauges() {
        metrics.slots.record(configuration.slots)
        metrics.running.record(running.count)
        metrics.unrecorded.record(unrecorded.count)
        metrics.withheldCredit.record(Int(withheldCredit))
    }

    /// Serves jobs named `name` with `handler` (replacing an earlier one of that name).
    public func handle(_ name: String, _ handler: @escaping JobHandler) {
        handlers[name] = Handler(run: handler, outcomes: metrics.outcomes(of: name))
    }

    /// Connects and serves until ``stop()`` or the end of ``drain(grace:)``. Throws a `ZMQError`
    /// for endpoints that cannot be connected.
    public func run() async throws {
        try connectCollector()
        do {
            try connectDispatcher()
        } catch {
            collectorLink?.close(linger: .zero)  // its green threads and socket end with the worker
            collectorLink = nil
            throw error
        }
        let beating = spawn(name: "worker: heartbeats") { [self] in await beat() }
        _ = try? await stopped.wait()
        beating.cancel()
        for job in running.values { job.thread.cancel() }
        dispatcherLink?.close(linger: .milliseconds(500))
        collectorLink?.close(linger: .milliseconds(500))
    }

    /// Stops at once: running jobs are killed (their leases expire and they run elsewhere).
    public func stop() { stopped.set() }

    /// Graceful stop: no new jobs; running ones get `grace` to finish, then are killed and given
    /// back; returns after the results are recorded (or `grace` has passed) and the worker stopped.
    public func drain(grace: Duration) async {
        draining = true
        toDispatcher?.post(.drain)
        let deadline = ContinuousClock.now + grace
        await waitFor(until: deadline) { running.isEmpty }
        for job in running.values {
            job.thread.cancel()
            toDispatcher?.post(.giveBack(job.lease))
        }
        await waitFor(until: deadline) { unrecorded.isEmpty }
        // The last messages (results sent again, give-backs) go out before the sockets close.
        await toDispatcher?.flush(until: deadline)
        await toCollector?.flush(until: deadline)
        stop()
    }

    /// Waits until `condition` holds or `deadline` passes, woken each time a job ends or a result
    /// is recorded.
    private func waitFor(until deadline: ContinuousClock.Instant, _ condition: () -> Bool) async {
        while !condition(), ContinuousClock.now < deadline {
            progressed.clear()
            _ = try? await progressed.wait(timeout: deadline - .now)
        }
    }

    // MARK: Connections

    /// Connects to the dispatcher (again: the link before is closed) and introduces itself.
    private func connectDispatcher() throws {
        dispatcherLink?.close(linger: .zero)
        dispatcherLink = nil
        dispatcherLink = try DealerLink(
            to: configuration.dispatcher, keys: configuration.keys.map { ($0, $0.dispatcher, "dispatcher") }, logger: logger,
            refusals: handshakeRefusals
        ) { [self] in
            await serveDispatcher($0)
        }
        heardFromDispatcher = .now
        toDispatcher?.post(.ready(readyMessage()))
    }

    private func connectCollector() throws {
        collectorLink = try DealerLink(
            to: configuration.collector, keys: configuration.keys.map { ($0, $0.collector, "collector") }, logger: logger,
            refusals: handshakeRefusals
        ) { [self] in await serveCollector($0) }
    }

    private func readyMessage() -> Ready {
        let held =
            running.values.map(\.lease)
            + unrecorded.keys.compactMap { id -> Lease? in
                if case .result(let lease, _, _, _, _, _) = unrecorded[id]!.message { return lease }
                return nil
            }
        return Ready(
            role: .worker, name: configuration.name, host: ProcessInfo.processInfo.hostName,
            pid: UInt32(getpid()), slots: draining ? 0 : freeSlots(),
            heartbeatMilliseconds: milliseconds(configuration.heartbeat), handlers: handlers.keys.sorted(),
            held: held)
    }

    /// Slots that may take a job now.
    private func freeSlots() -> UInt32 {
        guard unrecorded.count < configuration.maxUnrecordedResults else { return 0 }
        return UInt32(max(0, configuration.slots - running.count))
    }

    private func serveDispatcher(_ socket: ZMQSocket) async {
        while let envelope = try? await socket.receiveEnvelope(routed: false) {
            heardFromDispatcher = .now
            guard case .success(let message) = envelope.message else {
                logger.warning("unreadable message from the dispatcher dropped")
                continue
            }
            switch message {
            case .job(let lease, let handler, let timeout, let payload, let token):
                await start(lease, handler: handler, timeoutMilliseconds: timeout, payload: payload, token: token)
            case .abort(let job):
                running[job]?.thread.cancel()
            case .error(_, .conflict, _):
                // The dispatcher does not know us (it restarted): introduce ourselves again.
                toDispatcher?.post(.ready(readyMessage()))
            case .welcome, .heartbeat:
                break
            default:
                logger.warning("unexpected message from the dispatcher: \(message)")
            }
        }
    }

    private func serveCollector(_ socket: ZMQSocket) async {
        while let envelope = try? await socket.receiveEnvelope(routed: false) {
            if case .success(.error(let job, .conflict, let reason)) = envelope.message,
                case .result(let lease, _, _, _, _, _)? = unrecorded[job]?.message
            {
                // The collector refused this result (its lease token): the job runs again elsewhere.
                unrecorded[job] = nil
                logger.warning("the collector refused the result of job \(job): \(reason)")
                toDispatcher?.post(.failed(lease, retryable: true, error: "the collector refused the result: \(reason)"))
                continue
            }
            guard case .success(.recorded(let jobs)) = envelope.message else { continue }
            for job in jobs { unrecorded[job] = nil }
            progressed.set()
            // Slots held back for a collector that was behind can be used again.
            if withheldCredit > 0 && unrecorded.count < configuration.maxUnrecordedResults {
                returnCredit(withheldCredit)
                withheldCredit = 0
            }
        }
    }

    // MARK: Running jobs

    private func start(
        _ lease: Lease, handler name: String, timeoutMilliseconds: UInt32, payload: [UInt8], token: UInt64
    ) async {
        guard let entry = handlers[name], !draining, running[lease.job] == nil else {
            toDispatcher?.post(.giveBack(lease))
            return returnCredit(1)
        }
        let context = JobContext(job: lease.job, attempt: lease.attempt, handler: name, payload: payload) {
            [self] done, total, message in
            toCollector?.post(.progress(lease, done: done, total: total, message: message))
        }
        let timeout = timeoutMilliseconds > 0 ? Duration.milliseconds(Int64(timeoutMilliseconds)) : nil
        let run = entry.run
        // Credit keeps a slot free for every job the dispatcher sends: this does not wait.
        guard
            let thread = try? await pool.spawn(
                name: "job \(lease.job)",
                { [self] in
                    let started = ContinuousClock.now
                    do {
                        let output = try await withTimeout(timeout, label: "job timeout") { try await run(context) }
                        let micros = UInt64((ContinuousClock.now - started) / .microseconds(1))
                        finish(
                            lease,
                            result: .result(
                                lease, handler: name, status: .succeeded, durationMicroseconds: micros,
                                payload: output, token: token))
                    } catch let failure as JobFailure {
                        finish(lease, failure: failure, retryable: failure.retryable)
                    } catch is CancellationError {
                        finish(lease, aborted: true)  // aborted, or the worker stops: no FAILED
                    } catch {
                        finish(lease, failure: JobFailure("\(error)"), retryable: true)
                    }
                })
        else { return }
        running[lease.job] = Running(lease: lease, handler: name, outcomes: entry.outcomes, thread: thread)
    }

    private func finish(
        _ lease: Lease, result: Message? = nil, failure: JobFailure? = nil, retryable: Bool = true,
        aborted: Bool = false
    ) {
        if let outcomes = running.removeValue(forKey: lease.job)?.outcomes {
            (aborted ? outcomes.aborted : result != nil ? outcomes.succeeded : outcomes.failed).increment()
        }
        progressed.set()
        completed += 1
        if let result {
            unrecorded[lease.job] = (result, .now)
            toCollector?.post(result)
        } else if let failure, !aborted {
            let retryAfter = failure.retryAfter.map { UInt32(min(Double(UInt32.max), max(1, $0 / .milliseconds(1)))) } ?? 0
            toDispatcher?.post(
                .failed(lease, retryable: retryable, error: failure.message, retryAfterMilliseconds: retryAfter))
        }
        if draining { return }
        if unrecorded.count >= configuration.maxUnrecordedResults {
            withheldCredit += 1
        } else {
            returnCredit(1)
        }
    }

    /// Gives slots back to the dispatcher, several in one CREDIT when jobs end together.
    private func returnCredit(_ slots: UInt32) {
        pendingCredit += slots
        guard !creditFlushScheduled else { return }
        creditFlushScheduled = true
        spawnN { [self] in
            creditFlushScheduled = false
            let slots = pendingCredit
            pendingCredit = 0
            if slots > 0 && !draining { toDispatcher?.post(.credit(slots: slots)) }
        }
    }

    // MARK: Heartbeats and reconnecting

    private func beat() async {
        var backoff = Duration.seconds(1)
        while (try? await sleep(for: configuration.heartbeat)) != nil {
            toDispatcher?.post(.heartbeat)
            // Results the collector has not confirmed go again (it was down, or lost them).
            let stale = ContinuousClock.now - configuration.heartbeat * 2
            for (job, entry) in unrecorded where entry.sentAt < stale {
                toCollector?.post(entry.message)
                unrecorded[job]!.sentAt = .now
            }
            guard ContinuousClock.now - heardFromDispatcher > configuration.heartbeat * configuration.liveness else {
                backoff = .seconds(1)
                continue
            }
            logger.warning("dispatcher silent; reconnecting in \(backoff)")
            // Stopped meanwhile (cancelled): no new link after run() closed the last one.
            guard (try? await sleep(for: backoff)) != nil else { return }
            backoff = min(backoff * 2, .seconds(32))
            metrics.reconnects.increment()
            do { try connectDispatcher() } catch { logger.error("reconnecting failed: \(error)") }
        }
    }
}
