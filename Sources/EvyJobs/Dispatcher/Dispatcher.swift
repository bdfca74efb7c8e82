import Evy
import EvyZMQ
import Foundation
import Logging
import Metrics

/// The dispatcher: accepts jobs from clients, keeps them in its journal, and hands them to the
/// workers that have credit, one lease per attempt. It learns that a job is done from the
/// collector. Two ROUTER endpoints: one for clients, one for workers and the collector.
///
/// Semantics (docs/protocol.md): a SUBMIT is acknowledged only after its journal batch commits;
/// a worker never holds more jobs than its credit; a worker silent for `liveness` heartbeats is
/// lost and its jobs run again (after `maxLost` losses a job goes to the dead letters); a failed
/// attempt is retried with exponential backoff and jitter up to its retry limit, then dead; a
/// delayed job is never leased before its time; concurrency keys hold across all workers.
///
/// ```swift
/// let dispatcher = try Dispatcher(configuration: .init(dataDirectory: "/var/lib/evy"))
/// try await dispatcher.run()   // until stop()
/// ```
/// Hub-confined: create, run and stop it on one hub. Nothing a peer sends can crash it: an
/// unreadable message is answered with ERROR and counted.
public final class Dispatcher: @unchecked Sendable {
    /// Endpoints, storage and policies.
    public struct Configuration: Sendable {
        /// Where clients connect (`tcp://*:5555`, `inproc://…`, `tcp://127.0.0.1:*`).
        public var clientEndpoint = "tcp://*:5555"
        /// Where workers and the collector connect.
        public var workerEndpoint = "tcp://*:5556"
        /// The directory of the journal (`dispatcher.sqlite3`).
        public var dataDirectory: String
        /// Whether each commit waits for the disk (`FULL`) or only for the OS (`NORMAL`, WAL).
        public var synchronous: JournalSynchronous = .normal
        /// How often heartbeats go out, and are expected.
        public var heartbeat: Duration = .seconds(1)
        /// Heartbeats a peer may miss before it counts as lost.
        public var liveness: UInt8 = 3
        /// Retries of a failing job when its submitter did not say.
        public var defaultMaxRetries: UInt8 = 3
        /// The first retry's delay; each further one doubles, up to `maxRetryDelay`, with ±25% jitter.
        public var retryDelay: Duration = .seconds(1)
        /// The longest delay between two attempts.
        public var maxRetryDelay: Duration = .seconds(300)
        /// Times a job's worker may be lost while it runs before the job is dead.
        public var maxLost: UInt32 = 3
        /// The largest payload accepted (413 beyond).
        public var maxPayloadBytes = 1 << 20
        /// CURVE keys: with them every connection is encrypted and only ``JobKeys/allowed`` peers
        /// get in (nil: plain tcp, for one machine or a trusted network).
        public var keys: JobKeys?
        /// Submits one client may have waiting for their commit (429 beyond).
        public var maxPendingSubmitsPerClient = 50_000
        /// Where its metrics go (``DispatcherMetrics``' names); nil: swift-metrics' global factory.
        public var metrics: (any MetricsFactory)?

        /// A configuration storing its journal in `dataDirectory`, the other settings defaults.
        public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
    }

    private struct WorkerState {
        var name: String
        var host: String
        var pid: UInt32
        var slots: UInt32
        var credit: UInt32
        var handlers: Set<String>
        var lastSeen: ContinuousClock.Instant
        var draining = false
    }

    /// Counters since start, for status and metrics.
    public struct Counters: Sendable {
        public var submitted = 0, duplicates = 0, leased = 0, done = 0, retried = 0, dead = 0, lost = 0
        public var cancelled = 0, refused = 0, malformed = 0
    }

    public let configuration: Configuration
    private let logger = Logger(label: "evy.dispatcher")
    /// The secret of the lease tokens (kept beside the journal, so a restart keeps it).
    private let leaseKey: LeaseKey
    private let journal: DispatcherJournal
    private let clients: ZMQSocket
    private let peers: ZMQSocket
    private let toClients: Outbox
    private let toPeers: Outbox
    private var schedule = Schedule()
    private var workers: [[UInt8]: WorkerState] = [:]
    private var collector: [UInt8]?
    private var collectorLastSeen = ContinuousClock.now
    /// Final outcomes decided here (dead, cancelled) sent to the collector and not yet recorded.
    private var unrecorded: [UInt64: Message] = [:]
    private var pendingSubmits: [[UInt8]: Int] = [:]
    private var wakeTimer: Handle?
    /// Where the rounds of ``dispatch()`` start among the workers with credit.
    private var dispatchRotation = 0
    private var wakeAt: UInt64?
    private let stopped = Flag()
    /// What happened since start.
    public private(set) var counters = Counters()
    /// Submitted and done per second over the last 10 s, for status.
    private var rates = RateWindow()
    private var metrics: DispatcherMetrics
    private var cachedDepths: (at: UInt64, depths: [QueueDepth])?

    /// The endpoints as bound (a `*` port resolved).
    public private(set) var boundClientEndpoint = ""
    public private(set) var boundWorkerEndpoint = ""

    /// Opens the journal (loading every pending job) and binds both endpoints. Throws a
    /// ``JournalError`` for an unusable journal, a `ZMQError` for an endpoint that cannot be bound.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        metrics = DispatcherMetrics(factory: configuration.metrics ?? MetricsSystem.factory)
        journal = try DispatcherJournal(
            directory: configuration.dataDirectory, synchronous: configuration.synchronous,
            hub: Hub.current, commitTimer: metrics.journalCommit)
        leaseKey = try LeaseKey.stored(in: configuration.dataDirectory)
        clients = try .forRole(.router, maxPayloadBytes: configuration.maxPayloadBytes)
        peers = try .forRole(.router, maxPayloadBytes: configuration.maxPayloadBytes)
        if let keys = configuration.keys {
            try keys.serve(clients)
            try keys.serve(peers)
        }
        try clients.bind(configuration.clientEndpoint)
        try peers.bind(configuration.workerEndpoint)
        boundClientEndpoint = clients.lastEndpoint ?? configuration.clientEndpoint
        boundWorkerEndpoint = peers.lastEndpoint ?? configuration.workerEndpoint
        toClients = Outbox(clients, logger: logger)
        toPeers = Outbox(peers, logger: logger)
        let now = unixMilliseconds()
        for stored in try journal.loadPending() { schedule.add(ScheduledJob(stored), now: now) }
        logger.info(
            "dispatcher: \(schedule.jobs.count) pending jobs from the journal; clients \(boundClientEndpoint), workers \(boundWorkerEndpoint)"
        )
    }

    /// Serves until ``stop()``; the sockets and the journal are closed on return.
    public func run() async throws {
        let threads = [
            spawn(name: "dispatcher: to clients") { [self] in await toClients.run() },
            spawn(name: "dispatcher: to workers") { [self] in await toPeers.run() },
            spawn(name: "dispatcher: clients") { [self] in await serveClients() },
            spawn(name: "dispatcher: workers and collector") { [self] in await servePeers() },
            spawn(name: "dispatcher: heartbeats") { [self] in await beat() },
        ]
        dispatch()
        _ = try? await stopped.wait()
        for thread in threads { thread.cancel() }
        wakeTimer?.cancel()
        clients.close(linger: .zero)
        peers.close(linger: .zero)
        journal.close()
    }

    /// Makes ``run()`` return. Jobs in flight stay in the journal and run again after a restart.
    public func stop() { stopped.set() }

    // MARK: Clients

    private func serveClients() async {
        while let envelope = try? await clients.receiveEnvelope(routed: true) {
            switch envelope.message {
            case .failure(let error):
                counters.malformed += 1
                toClients.post(
                    .error(request: envelope.request, code: error.code, reason: error.reason), to: envelope.peer)
            case .success(let message):
                handleClient(message, from: envelope.peer)
            }
        }
    }

    private func handleClient(_ message: Message, from client: [UInt8]) {
        switch message {
        case .submit(let request, let handler, let options, let payload):
            submit(request: request, handler: handler, options: options, payload: payload, from: client)
        case .cancel(let request, let job):
            cancel(job) { [self] result in
                switch result {
                case .success(let outcome):
                    toClients.post(.cancelled(request: request, job: job, outcome: outcome), to: client)
                case .failure(let error):
                    toClients.post(
                        .error(request: request, code: .storageUnavailable, reason: "\(error)"), to: client)
                }
            }
        case .query(let request, let topic, _, let limit):
            toClients.post(.answer(request: request, json: answer(topic, limit: Int(limit))), to: client)
        case .deadLetters(let request, let action, let job):
            deadLetters(action, job: job) { [self] result in
                switch result {
                case .success(let count):
                    toClients.post(.answer(request: request, json: Array("{\"count\": \(count)}".utf8)), to: client)
                case .failure(let error):
                    logger.error("journal refused a dead-letter \(action): \(error)")
                    toClients.post(
                        .error(request: request, code: .storageUnavailable, reason: "\(error)"), to: client)
                }
            }
        default:
            counters.refused += 1
            toClients.post(.error(request: 0, code: .conflict, reason: "not a client request"), to: client)
        }
    }

    private func submit(request: UInt64, handler: String, options: JobOptions, payload: [UInt8], from client: [UInt8]) {
        guard !handler.isEmpty else {
            return toClients.post(.error(request: request, code: .malformed, reason: "no handler named"), to: client)
        }
        guard payload.count <= configuration.maxPayloadBytes else {
            return toClients.post(
                .error(
                    request: request, code: .tooLarge,
                    reason: "payload over \(configuration.maxPayloadBytes) bytes"), to: client)
        }
        guard pendingSubmits[client, default: 0] < configuration.maxPendingSubmitsPerClient else {
            counters.refused += 1
            return toClients.post(
                .error(request: request, code: .busy, reason: "too many submits in flight"), to: client)
        }
        pendingSubmits[client, default: 0] += 1
        var options = options
        if options.maxRetries == 255 { options.maxRetries = configuration.defaultMaxRetries }
        let job = NewJob(handler: handler, options: options, payload: payload, submittedAt: unixMilliseconds())
        journal.submit(job) { [self] outcome in
            pendingSubmits[client, default: 1] -= 1
            if pendingSubmits[client] == 0 { pendingSubmits[client] = nil }
            switch outcome {
            case .success(.accepted(let stored)):
                counters.submitted += 1
                metrics.submitted.increment(handler)
                schedule.add(ScheduledJob(stored), now: unixMilliseconds())
                toClients.post(.submitted(request: request, job: stored.id, duplicate: false), to: client)
                dispatch()
            case .success(.duplicate(let id)):
                counters.duplicates += 1
                toClients.post(.submitted(request: request, job: id, duplicate: true), to: client)
            case .failure(let error):
                logger.error("journal refused a submit: \(error)")
                toClients.post(.error(request: request, code: .storageUnavailable, reason: "\(error)"), to: client)
            }
        }
    }

    /// Cancels a job: answered once the journal has it cancelled (a journal that refuses puts the
    /// job back, queued, and the answer is the error).
    private func cancel(_ id: UInt64, answer: @escaping @Sendable (Result<CancelOutcome, JournalError>) -> Void) {
        guard let job = schedule.remove(id) else { return answer(.success(.notFound)) }
        // A running job is stopped in its worker, which gives its slot back with CREDIT.
        if let lease = job.lease { toPeers.post(.abort(job: id), to: lease.worker) }
        let lease = Lease(job: id, attempt: max(job.attempts, 1))
        journal.markCancelled(job: id) { [self] result in
            guard finalised(job, as: .cancelled, journaled: result) else { return answer(result.map { .removed }) }
            counters.cancelled += 1
            metrics.cancelled.increment(job.handler)
            recordFinal(lease, handler: job.handler, status: .cancelled, error: "cancelled")
            answer(.success(job.lease == nil ? .removed : .aborting))
        }
        dispatch()
    }

    /// Retries or purges dead jobs; `answer` gets how many, or the journal's error.
    private func deadLetters(
        _ action: DeadLetterAction, job: UInt64, answer: @escaping @Sendable (Result<Int, JournalError>) -> Void
    ) {
        switch action {
        case .purge:
            journal.purge(job: job, completion: answer)
        case .retry:
            journal.revive(job: job) { [self] result in
                guard case .success(let revived) = result else { return answer(result.map(\.count)) }
                let now = unixMilliseconds()
                for stored in revived where schedule.jobs[stored.id] == nil {
                    schedule.add(ScheduledJob(stored), now: now)
                }
                dispatch()
                answer(.success(revived.count))
            }
        }
    }

    // MARK: Workers and the collector

    private func servePeers() async {
        while let envelope = try? await peers.receiveEnvelope(routed: true) {
            switch envelope.message {
            case .failure(let error):
                counters.malformed += 1
                toPeers.post(
                    .error(request: envelope.request, code: error.code, reason: error.reason), to: envelope.peer)
            case .success(let message):
                handlePeer(message, from: envelope.peer)
            }
        }
    }

    private func handlePeer(_ message: Message, from peer: [UInt8]) {
        if case .ready(let ready) = message { return welcome(ready, peer: peer) }
        if peer == collector {
            collectorLastSeen = .now
            return handleCollector(message)
        }
        guard workers[peer] != nil else {
            // A peer this dispatcher does not know (it restarted, or the peer was declared lost):
            // it must introduce itself again.
            if case .heartbeat = message {} else { counters.refused += 1 }
            return toPeers.post(.error(request: 0, code: .conflict, reason: "send READY first"), to: peer)
        }
        workers[peer]!.lastSeen = .now
        let now = unixMilliseconds()
        switch message {
        case .credit(let slots):
            // Saturating: a peer's count must not trap the dispatcher (UInt32 overflow).
            workers[peer]!.credit = UInt32(min(UInt64(workers[peer]!.credit) + UInt64(slots), UInt64(workers[peer]!.slots)))
            dispatch()
        case .failed(let lease, let retryable, let error, let retryAfter):
            guard let job = schedule.jobs[lease.job], job.lease?.worker == peer, job.lease?.attempt == lease.attempt
            else {
                return  // a lease that expired: the job has another attempt, or is done
            }
            metrics.failed.increment(job.handler)
            if retryable && job.attempts <= UInt32(job.maxRetries) {
                let delay = max(retryDelay(after: job.attempts), UInt64(retryAfter))
                counters.retried += 1
                metrics.retried.increment(job.handler)
                schedule.unlease(lease.job, now: now, notBefore: now + delay)
                journal.markRetry(job: lease.job, attempts: job.attempts, notBefore: now + delay, error: error)
            } else {
                bury(lease.job, lease: lease, error: error)
            }
            dispatch()
        case .giveBack(let lease):
            guard let job = schedule.jobs[lease.job], job.lease?.worker == peer else { return }
            schedule.unlease(lease.job, now: now)
            dispatch()
        case .drain:
            workers[peer]!.draining = true
            workers[peer]!.credit = 0
        case .heartbeat:
            break
        default:
            counters.refused += 1
            toPeers.post(.error(request: 0, code: .conflict, reason: "not a worker message"), to: peer)
        }
    }

    private func welcome(_ ready: Ready, peer: [UInt8]) {
        toPeers.post(
            .welcome(
                heartbeatMilliseconds: milliseconds(configuration.heartbeat), liveness: configuration.liveness,
                leaseKey: ready.role == .collector ? leaseKey.bytes : []),
            to: peer)
        switch ready.role {
        case .collector:
            collector = peer
            collectorLastSeen = .now
            for message in unrecorded.values { toPeers.post(message, to: peer) }
            logger.info("collector \(ready.name) on \(ready.host) connected")
        case .worker:
            if workers[peer] != nil { lose(peer) }  // a READY again: whatever it held is void
            var adopted = 0
            for lease in ready.held where schedule.adopt(lease, by: peer) { adopted += 1 }
            workers[peer] = WorkerState(
                name: ready.name, host: ready.host, pid: ready.pid, slots: ready.slots,
                credit: ready.slots > UInt32(adopted) ? ready.slots - UInt32(adopted) : 0,
                handlers: Set(ready.handlers), lastSeen: .now)
            logger.info("worker \(ready.name) on \(ready.host): \(ready.slots) slots, handlers \(ready.handlers)")
            dispatch()
        }
    }

    private func handleCollector(_ message: Message) {
        switch message {
        case .done(let completions):
            // Every completion is acknowledged; only the jobs still held here become done (a
            // dead or cancelled job's recorded outcome keeps its state in the journal).
            var finished: [UInt64] = []
            for completion in completions {
                let id = completion.lease.job
                unrecorded[id] = nil
                guard let job = schedule.remove(id) else { continue }
                finished.append(id)
                counters.done += 1
                metrics.done.increment(job.handler)
                // Another attempt may still run (a lease that had expired): stop it.
                if let lease = job.lease, lease.attempt != completion.lease.attempt {
                    toPeers.post(.abort(job: id), to: lease.worker)
                }
            }
            let acknowledged = completions.map(\.lease.job)
            guard !finished.isEmpty else {
                if let collector { toPeers.post(.doneAcknowledged(jobs: acknowledged), to: collector) }
                return dispatch()
            }
            journal.markDone(jobs: finished) { [self] result in
                if case .success = result, let collector {
                    toPeers.post(.doneAcknowledged(jobs: acknowledged), to: collector)
                }
            }
            dispatch()
        case .heartbeat:
            break
        default:
            counters.refused += 1
        }
    }

    // MARK: Handing out jobs

    /// Leases ready jobs to the workers with credit until either runs out (delayed jobs and key
    /// spacings that have come due first), then arms the timer for the next that will. Fair:
    /// one job per worker per round, the first worker of the rounds changing from call to call,
    /// so that jobs spread over the workers even when fewer are ready than one worker has slots
    /// for (a host's concurrency limit, a trickle of submits).
    private func dispatch() {
        let now = unixMilliseconds()
        _ = schedule.promote(now: now)
        defer { scheduleWake() }
        var eligible = workers.compactMap { $0.value.credit > 0 && !$0.value.draining ? $0.key : nil }
        guard !eligible.isEmpty else { return }
        dispatchRotation = (dispatchRotation + 1) % eligible.count
        eligible = Array(eligible[dispatchRotation...] + eligible[..<dispatchRotation])
        while !eligible.isEmpty {
            eligible.removeAll { peer in
                guard let worker = workers[peer], worker.credit > 0,
                    let job = schedule.lease(for: worker.handlers, to: peer, now: now)
                else { return true }
                workers[peer]!.credit -= 1
                counters.leased += 1
                let lease = Lease(job: job.id, attempt: job.attempts)
                toPeers.post(
                    .job(
                        lease, handler: job.handler, timeoutMilliseconds: job.timeoutMilliseconds, payload: job.payload,
                        token: leaseKey.token(for: lease)), to: peer)
                return false
            }
        }
    }

    /// Keeps one timer for the next delayed job or key spacing to come due (``dispatch()`` has
    /// promoted what is due already).
    private func scheduleWake() {
        let now = unixMilliseconds()
        guard let next = schedule.nextDue else {
            wakeTimer?.cancel()
            wakeTimer = nil
            wakeAt = nil
            return
        }
        if let wakeAt, wakeAt <= next, wakeTimer != nil { return }
        wakeTimer?.cancel()
        wakeAt = next
        wakeTimer = Hub.current.callLater(.milliseconds(max(0, Int64(next) - Int64(now)))) { [self] in
            wakeTimer = nil
            wakeAt = nil
            dispatch()
        }
    }

    private func retryDelay(after attempts: UInt32) -> UInt64 {
        let base = Double(milliseconds(configuration.retryDelay))
        let capped = min(base * pow(2, Double(max(attempts, 1) - 1)), Double(milliseconds(configuration.maxRetryDelay)))
        return UInt64(capped * Double.random(in: 0.75...1.25))
    }

    /// The job failed for good: dead letters, and its outcome recorded by the collector.
    private func bury(_ id: UInt64, lease: Lease, error: String) {
        guard let job = schedule.remove(id) else { return }
        journal.markDead(job: id, error: error) { [self] result in
            guard finalised(job, as: .dead, journaled: result) else { return }
            counters.dead += 1
            metrics.dead.increment(job.handler)
            recordFinal(lease, handler: job.handler, status: .dead, error: error)
        }
    }

    /// Whether the journal took a job's final state; if it refused (a full disk), the job goes
    /// back in the schedule, queued, as the journal still has it, and runs again.
    private func finalised(_ job: ScheduledJob, as status: JobStatus, journaled: Result<Void, JournalError>) -> Bool {
        guard case .failure(let failure) = journaled else { return true }
        logger.error("journal could not mark job \(job.id) \(status), so it stays queued: \(failure)")
        var queued = job
        queued.lease = nil
        if schedule.jobs[job.id] == nil { schedule.add(queued, now: unixMilliseconds()) }
        dispatch()
        return false
    }

    /// Has the collector record an outcome decided here, once the journal has it (so that a client
    /// told "dead" finds the job among the dead letters).
    private func recordFinal(_ lease: Lease, handler: String, status: JobStatus, error: String) {
        let message = Message.record(lease, handler: handler, status: status, error: error)
        unrecorded[lease.job] = message
        if let collector { toPeers.post(message, to: collector) }
    }

    // MARK: Heartbeats and lost workers

    private func beat() async {
        while (try? await sleep(for: configuration.heartbeat)) != nil {
            rates.record([counters.submitted, counters.done], at: .now)
            let deadline = ContinuousClock.now - configuration.heartbeat * Int(configuration.liveness)
            for (peer, worker) in workers {
                if worker.lastSeen < deadline { lose(peer) } else { toPeers.post(.heartbeat, to: peer) }
            }
            if let collector {
                if collectorLastSeen < deadline {
                    self.collector = nil
                    logger.warning("collector lost")
                } else {
                    toPeers.post(.heartbeat, to: collector)
                    for message in unrecorded.values { toPeers.post(message, to: collector) }
                }
            }
            dispatch()
        }
    }

    /// The worker is gone: every job it held runs again (or is dead after `maxLost` losses).
    private func lose(_ peer: [UInt8]) {
        guard let worker = workers.removeValue(forKey: peer) else { return }
        let held = schedule.leases(of: peer)
        logger.warning("worker \(worker.name) on \(worker.host) lost with \(held.count) jobs")
        let now = unixMilliseconds()
        for job in held {
            counters.lost += 1
            metrics.leaseExpiries.increment()
            if job.lost + 1 >= configuration.maxLost {
                bury(
                    job.id, lease: Lease(job: job.id, attempt: job.attempts),
                    error: "its worker was lost \(job.lost + 1) times")
            } else {
                schedule.unlease(job.id, now: now, lost: true)
                journal.markLost(job: job.id, lost: job.lost + 1)
            }
        }
        dispatch()
    }

    // MARK: Questions

    /// The dispatcher's state for an operator's console, as JSON: `status` (as the `status`
    /// query gives it) and `leases` (up to 100 jobs running now, with their workers). Hub-confined.
    public func stateJSON() -> [UInt8] {
        let workers = self.workers
        let leases = schedule.jobs.values.lazy.filter { $0.lease != nil }.prefix(100).map { job in
            let worker = job.lease.flatMap { workers[$0.worker] }
            return "{\"job\": \(job.id), \"handler\": \(jsonQuoted(job.handler)), \"attempt\": \(job.attempts), \"worker\": "
                + "\(jsonQuoted(worker?.name ?? "?")), \"host\": \(jsonQuoted(worker?.host ?? "?"))}"
        }
        let text = "{\"status\": \(String(decoding: answer("status", limit: 1_000), as: UTF8.self)), \"leases\": [\(leases.joined(separator: ", "))]}"
        return Array(text.utf8)
    }

    /// One line of the queue: how many jobs of `handler` at `priority` are ready to run now (or
    /// wait for their concurrency key), leased and delayed jobs not counted.
    public struct QueueDepth: Sendable, Equatable {
        public var handler: String
        public var priority: UInt8
        public var depth: Int
    }

    /// The queue by handler and priority, largest first. Reads every queued job, so with more than
    /// 10,000 of them a reading is kept for a second: status queries and scrapes, however
    /// frequent, then cost one pass a second.
    public func queueDepths() -> [QueueDepth] {
        let now = unixMilliseconds()
        if schedule.jobs.count > 10_000, let cached = cachedDepths, now < cached.at + 1_000 { return cached.depths }
        let depths = countQueueDepths(now: now)
        cachedDepths = (now, depths)
        return depths
    }

    private func countQueueDepths(now: UInt64) -> [QueueDepth] {
        var depths: [String: [UInt8: Int]] = [:]
        for job in schedule.jobs.values where job.lease == nil && job.notBefore <= now {
            depths[job.handler, default: [:]][job.priority, default: 0] += 1
        }
        return depths.flatMap { handler, byPriority in
            byPriority.map { QueueDepth(handler: handler, priority: $0.key, depth: $0.value) }
        }.sorted { ($0.depth, $1.handler, $1.priority) > ($1.depth, $0.handler, $0.priority) }
    }

    /// Sets the gauges (queue depths, delayed, in flight, workers) from the state now; the metrics
    /// endpoint calls it before each scrape. Hub-confined.
    public func updateGauges() {
        var reading: [[String]: Double] = [:]
        for line in queueDepths() { reading[[line.handler, String(line.priority)], default: 0] += Double(line.depth) }
        metrics.queueDepth.set(reading)
        metrics.delayed.record(schedule.delayedCount)
        metrics.inFlight.record(schedule.leasedCount)
        metrics.workers.record(workers.count)
    }

    private func answer(_ topic: String, limit: Int) -> [UInt8] {
        let object: Any
        switch topic {
        case "status":
            let perSecond = rates.perSecond([counters.submitted, counters.done], at: .now)
            object =
                [
                    "pending": schedule.pendingCount, "delayed": schedule.delayedCount, "leased": schedule.leasedCount,
                    "submitted": counters.submitted, "duplicates": counters.duplicates, "done": counters.done,
                    "retried": counters.retried, "dead": counters.dead, "lost": counters.lost,
                    "cancelled": counters.cancelled, "malformed": counters.malformed, "refused": counters.refused,
                    "collector": collector != nil,
                    "queues": queueDepths().prefix(limit > 0 ? limit : 1_000).map {
                        ["handler": $0.handler, "priority": $0.priority, "depth": $0.depth] as [String: Any]
                    },
                    "rates": ["submittedPerSecond": perSecond[0], "donePerSecond": perSecond[1], "windowSeconds": 10],
                    "workers": workers.values.map { worker in
                        [
                            "name": worker.name, "host": worker.host, "pid": worker.pid, "slots": worker.slots,
                            "inFlight": worker.slots - worker.credit, "draining": worker.draining,
                            "lastSeenMs": Int((ContinuousClock.now - worker.lastSeen) / .milliseconds(1)),
                        ] as [String: Any]
                    },
                ] as [String: Any]
        case "active", "scheduled":
            let leased = topic == "active"
            object = schedule.jobs.values.filter { ($0.lease != nil) == leased }.prefix(limit).map { job in
                [
                    "id": job.id, "handler": job.handler, "attempts": job.attempts, "priority": job.priority,
                    "notBefore": job.notBefore,
                ] as [String: Any]
            }
        case "dead":
            object = ((try? journal.loadDead(limit: limit)) ?? []).map { job in
                ["id": job.id, "handler": job.handler, "attempts": job.attempts, "error": job.lastError]
                    as [String: Any]
            }
        default:
            object = ["error": "unknown topic \(topic)"]
        }
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}

extension ScheduledJob {
    init(_ stored: StoredJob) {
        self.init(
            id: stored.id, handler: stored.handler, options: stored.options, payload: stored.payload,
            attempts: stored.attempts, lost: stored.lost, lease: nil)
    }
}

/// A duration in whole milliseconds (for the wire).
func milliseconds(_ duration: Duration) -> UInt32 {
    UInt32(clamping: duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
}
