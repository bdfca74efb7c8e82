import Evy
import EvyZMQ
import Foundation
import Logging
import Metrics

/// The collector: records each job's result once (the first attempt to arrive wins; the job id
/// is the key), tells the worker it is recorded and the dispatcher that the job is done, and
/// answers clients that wait for outcomes or page through results.
///
/// Endpoints: a ROUTER where workers send results, a ROUTER for clients, and a DEALER connected
/// to the dispatcher's worker endpoint (it introduces itself with READY, role collector).
/// `done` messages the dispatcher has not acknowledged are sent again every few heartbeats and
/// after a restart of either side, so a job is never left running after its result is recorded.
/// Hub-confined; nothing a peer sends can crash it.
public final class Collector: @unchecked Sendable {
    /// Endpoints and storage.
    public struct Configuration: Sendable {
        /// Where workers send results.
        public var resultEndpoint = "tcp://*:5557"
        /// Where clients wait and read results.
        public var clientEndpoint = "tcp://*:5558"
        /// The dispatcher's worker endpoint.
        public var dispatcher: String
        /// The directory of the store (`collector.sqlite3`).
        public var dataDirectory: String
        /// `NORMAL` or `FULL` commits.
        public var synchronous: JournalSynchronous = .normal
        /// How often heartbeats go to the dispatcher.
        public var heartbeat: Duration = .seconds(1)
        /// The largest result accepted.
        public var maxPayloadBytes = 1 << 20
        /// CURVE keys: with them every connection is encrypted and only ``JobKeys/allowed`` peers
        /// get in (nil: plain tcp, for one machine or a trusted network).
        public var keys: JobKeys?
        /// Where its metrics go (``CollectorMetrics``' names); nil: swift-metrics' global factory.
        public var metrics: (any MetricsFactory)?
        /// Jobs one client connection may wait for at once: of a WAIT beyond, the jobs already
        /// recorded are answered and the others refused busy (``JobClient`` asks about at most
        /// ``JobClient/outcomeWindow`` per stream, and again later for those refused).
        public var maxWaitedJobsPerClient = 200_000
        /// How long a client's wait lasts with no word of it (no new WAIT, no outcome or progress
        /// of its jobs): then it is dropped, its client gone or its jobs never given (checked
        /// every 10 heartbeats). A live
        /// ``JobClient`` asks again at least every 12 × ``JobClient/outcomeRefresh`` (60 s).
        public var waitLifetime: Duration = .seconds(300)

        /// A collector storing in `dataDirectory` for the dispatcher at `dispatcher`.
        public init(dispatcher: String, dataDirectory: String) {
            self.dispatcher = dispatcher
            self.dataDirectory = dataDirectory
        }
    }

    private typealias Waiter = OutcomeWaiters.Waiter

    public let configuration: Configuration
    private let logger = Logger(label: "evy.collector")
    /// Refused handshakes of its links, reported at most once a minute per endpoint.
    private let handshakeRefusals = HandshakeRefusals()
    private let store: CollectorStore
    private let results: ZMQSocket
    private let clients: ZMQSocket
    /// The connection to the dispatcher (a fresh one after each reconnect), from ``run()`` on.
    private var dispatcherLink: DealerLink?
    private let toWorkers: Outbox
    private let toClients: Outbox
    private var toDispatcher: Outbox? { dispatcherLink?.outbox }
    /// Completions told to the dispatcher and not yet acknowledged.
    private var unacknowledged: [UInt64: Completion] = [:]
    private var waiters: OutcomeWaiters
    /// What this hub turn's recordings have to tell (the dispatcher: done; each worker: recorded),
    /// sent together at the end of the turn: one DONE and one RECORDED per worker for a batch.
    private var doneThisTurn: [Completion] = []
    private var recordedThisTurn: [[UInt8]: [UInt64]] = [:]
    private var tellingQueued = false
    private let stopped = Flag()
    private var heardFromDispatcher = ContinuousClock.now
    /// Results recorded since start (new ones), and duplicates ignored.
    public private(set) var recorded = 0, duplicates = 0, malformed = 0
    /// Results refused because their token was not their job's (a job the sender was not given).
    public private(set) var forged = 0
    /// The dispatcher's key for lease tokens, from its WELCOME (nil: results are not checked).
    private var leaseKey: LeaseKey?
    private var metrics: CollectorMetrics
    /// Recorded results by handler and status since start, for status and the dashboard.
    public private(set) var recordedByHandler: [String: [JobStatus: Int]] = [:]

    /// The endpoints as bound.
    public private(set) var boundResultEndpoint = "", boundClientEndpoint = ""

    /// Opens the store and binds both endpoints; throws a ``JournalError`` or `ZMQError`.
    public init(configuration: Configuration) throws {
        self.configuration = configuration
        metrics = CollectorMetrics(factory: configuration.metrics ?? MetricsSystem.factory)
        waiters = OutcomeWaiters(maxJobsPerClient: configuration.maxWaitedJobsPerClient, lifetime: configuration.waitLifetime)
        store = try CollectorStore(
            directory: configuration.dataDirectory, synchronous: configuration.synchronous,
            hub: Hub.current, commitTimer: metrics.journalCommit)
        leaseKey = LeaseKey.load(from: configuration.dataDirectory + "/lease.key")
        results = try .forRole(.router, maxPayloadBytes: configuration.maxPayloadBytes)
        clients = try .forRole(.router)
        if let keys = configuration.keys {
            try keys.serve(results)
            try keys.serve(clients)
        }
        try results.bind(configuration.resultEndpoint)
        try clients.bind(configuration.clientEndpoint)
        boundResultEndpoint = results.lastEndpoint ?? configuration.resultEndpoint
        boundClientEndpoint = clients.lastEndpoint ?? configuration.clientEndpoint
        toWorkers = Outbox(results, logger: logger)
        toClients = Outbox(clients, logger: logger)
        for completion in try store.unacknowledged() { unacknowledged[completion.lease.job] = completion }
    }

    /// Serves until ``stop()``.
    public func run() async throws {
        try connectDispatcher()
        let threads = [
            spawn(name: "collector: to workers") { [self] in await toWorkers.run() },
            spawn(name: "collector: to clients") { [self] in await toClients.run() },
            spawn(name: "collector: results") { [self] in await serveResults() },
            spawn(name: "collector: clients") { [self] in await serveClients() },
            spawn(name: "collector: heartbeats") { [self] in await beat() },
        ]
        _ = try? await stopped.wait()
        for thread in threads { thread.cancel() }
        results.close(linger: .zero)
        clients.close(linger: .zero)
        dispatcherLink?.close(linger: .milliseconds(200))
        store.close()
    }

    /// Makes ``run()`` return.
    public func stop() { stopped.set() }

    // MARK: The dispatcher

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
        introduce()
    }

    private func introduce() {
        toDispatcher?.post(
            .ready(
                Ready(
                    role: .collector, name: "collector-\(getpid())", host: ProcessInfo.processInfo.hostName,
                    pid: UInt32(getpid()),
                    slots: 0, heartbeatMilliseconds: milliseconds(configuration.heartbeat), handlers: [], held: [])))
        resendDone()
    }

    private func resendDone() {
        let pending = Array(unacknowledged.values)
        for chunk in pending.chunks() { toDispatcher?.post(.done(Array(chunk))) }
    }

    private func serveDispatcher(_ socket: ZMQSocket) async {
        while let envelope = try? await socket.receiveEnvelope(routed: false) {
            heardFromDispatcher = .now
            guard case .success(let message) = envelope.message else { continue }
            switch message {
            case .doneAcknowledged(let jobs):
                for job in jobs { unacknowledged[job] = nil }
                store.markAcknowledged(jobs: jobs)
            case .record(let lease, let handler, let status, let error):
                record(lease, handler: handler, status: status, duration: 0, payload: Array(error.utf8), from: nil)
            case .error(_, .conflict, _):
                introduce()
            case .welcome(_, _, let key):
                // From now on a result needs its job's token; kept, so a restart checks at once.
                leaseKey = LeaseKey(bytes: key)
                leaseKey?.save(to: configuration.dataDirectory + "/lease.key")
            default:
                break
            }
        }
    }

    // MARK: Results

    private func serveResults() async {
        while let envelope = try? await results.receiveEnvelope(routed: true) {
            switch envelope.message {
            case .success(.result(let lease, let handler, let status, let duration, let payload, let token)):
                if let leaseKey, token != leaseKey.token(for: lease) {
                    forged += 1
                    metrics.forged.increment()
                    logger.warning("refused a result for job \(lease.job) attempt \(lease.attempt) the sender was not given")
                    // The request field names the job, so a worker holding that result gives it up.
                    toWorkers.post(
                        .error(request: lease.job, code: .conflict, reason: "a result for a job this worker was not given"),
                        to: envelope.peer)
                    continue
                }
                record(
                    lease, handler: handler, status: status, duration: duration, payload: payload, from: envelope.peer)
            case .success(.progress(let lease, let done, let total, let message)):
                for waiter in waiters.waiters(of: lease.job, now: .now) {
                    toClients.post(
                        .progressNote(
                            request: waiter.request, job: lease.job, done: done, total: total,
                            message: message), to: waiter.client)
                }
            case .success:
                malformed += 1
                metrics.malformed.increment()
                toWorkers.post(.error(request: 0, code: .conflict, reason: "not a result"), to: envelope.peer)
            case .failure(let error):
                malformed += 1
                metrics.malformed.increment()
                toWorkers.post(
                    .error(request: envelope.request, code: error.code, reason: error.reason), to: envelope.peer)
            }
        }
    }

    private func record(
        _ lease: Lease, handler: String, status: JobStatus, duration: UInt64, payload: [UInt8],
        from worker: [UInt8]?
    ) {
        let result = StoredResult(
            job: lease.job, attempt: lease.attempt, handler: handler, status: status,
            payload: payload, durationMicroseconds: duration, recordedAt: unixMilliseconds())
        store.record([result]) { [self] outcome in
            guard case .success(let fresh) = outcome else {
                // Not recorded (a full disk): the worker keeps the result and sends it again.
                logger.error("could not record job \(lease.job): \(outcome)")
                return
            }
            let completion: Completion
            if fresh.first == true {
                recorded += 1
                metrics.record(handler: handler, status: "\(status)", microseconds: duration)
                // As the metrics do: past the cap, further handler names count as "other".
                let name =
                    recordedByHandler[handler] != nil || recordedByHandler.count < HandlerCounters.maximumHandlers
                    ? handler : "other"
                recordedByHandler[name, default: [:]][status, default: 0] += 1
                completion = Completion(lease: lease, status: status)
                for waiter in waiters.take(lease.job, now: .now) {
                    toClients.post(
                        .outcome(
                            request: waiter.request, job: lease.job, attempt: lease.attempt, status: status,
                            handler: handler, payload: payload), to: waiter.client)
                }
            } else {
                duplicates += 1
                metrics.duplicates.increment()  // recorded before: the dispatcher hears of it again all the same
                completion = unacknowledged[lease.job] ?? Completion(lease: lease, status: status)
            }
            unacknowledged[lease.job] = completion
            tell(completion, worker: worker)
        }
    }

    /// Queues `completion` for the dispatcher and, if it came from `worker`, its RECORDED.
    private func tell(_ completion: Completion, worker: [UInt8]?) {
        doneThisTurn.append(completion)
        if let worker { recordedThisTurn[worker, default: []].append(completion.lease.job) }
        guard !tellingQueued else { return }
        tellingQueued = true
        Hub.current.callSoon { [self] in
            tellingQueued = false
            for (worker, jobs) in recordedThisTurn {
                for chunk in jobs.chunks() { toWorkers.post(.recorded(jobs: Array(chunk)), to: worker) }
            }
            for chunk in doneThisTurn.chunks() { toDispatcher?.post(.done(Array(chunk))) }
            doneThisTurn = []
            recordedThisTurn = [:]
        }
    }

    // MARK: Clients

    private func serveClients() async {
        while let envelope = try? await clients.receiveEnvelope(routed: true) {
            switch envelope.message {
            case .success(.wait(let request, let jobs)):
                wait(for: jobs, request: request, client: envelope.peer)
            case .success(.query(let request, "results", let after, let limit)):
                toClients.post(
                    .answer(request: request, json: page(after: after, limit: Int(min(limit, 10_000)))),
                    to: envelope.peer)
            case .success(.query(let request, "status", _, _)):
                toClients.post(.answer(request: request, json: statusJSON()), to: envelope.peer)
            case .success:
                malformed += 1
                metrics.malformed.increment()
                toClients.post(
                    .error(request: 0, code: .conflict, reason: "not a collector request"), to: envelope.peer)
            case .failure(let error):
                malformed += 1
                metrics.malformed.increment()
                toClients.post(
                    .error(request: envelope.request, code: error.code, reason: error.reason), to: envelope.peer)
            }
        }
    }

    /// The `status` answer: counts since start, the store's total, whether the dispatcher is
    /// heard, and per handler the results recorded by status.
    public func statusJSON() -> [UInt8] {
        let handlers = recordedByHandler.mapValues { byStatus in
            Dictionary(uniqueKeysWithValues: byStatus.map { ("\($0.key)", $0.value) })
        }
        let object: [String: Any] = [
            "recorded": recorded, "duplicates": duplicates, "malformed": malformed, "forged": forged,
            "total": (try? store.count()) ?? -1,
            "dispatcher": ContinuousClock.now - heardFromDispatcher < configuration.heartbeat * 3,
            "handlers": handlers,
        ]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    /// The collector's state for an operator's console, as JSON: `status` (as the `status` query
    /// gives it), clients' waits outstanding, and completions the dispatcher has not acknowledged.
    /// Hub-confined.
    public func stateJSON() -> [UInt8] {
        let text =
            "{\"status\": \(String(decoding: statusJSON(), as: UTF8.self)), \"jobsWaitedFor\": \(waiters.jobCount), "
            + "\"unacknowledgedCompletions\": \(unacknowledged.count), \"checksTokens\": \(leaseKey != nil)}"
        return Array(text.utf8)
    }

    /// Answers a WAIT: the outcomes already recorded at once, the others as they are recorded;
    /// jobs beyond the client's room (``Configuration/maxWaitedJobsPerClient``) that are not
    /// recorded yet are refused with one ERROR busy (the client asks again later).
    private func wait(for jobs: [UInt64], request: UInt64, client: [UInt8]) {
        let waiter = Waiter(client: client, request: request)
        let leftOut = waiters.add(jobs, for: waiter, now: .now)
        store.lookup(jobs: jobs) { [self] found in
            var unanswered = Set(leftOut)
            for result in (try? found.get()) ?? [] {
                let held = waiters.remove(result.job, from: waiter, now: .now)
                guard unanswered.remove(result.job) != nil || held else { continue }
                toClients.post(
                    .outcome(
                        request: request, job: result.job, attempt: result.attempt, status: result.status,
                        handler: result.handler, payload: result.payload), to: client)
            }
            guard !unanswered.isEmpty else { return }
            toClients.post(
                .error(
                    request: request, code: .busy,
                    reason: "a client may wait for \(waiters.maxJobsPerClient) jobs at once; "
                        + "\(unanswered.count) not waited for, ask again later"),
                to: client)
        }
    }

    /// A recorded result as the `results` query gives it: `job`, `attempt`, `handler`, `status`,
    /// `seq`, `durationUs`, `recordedAt` (Unix milliseconds), and `result` (the payload as text)
    /// or `resultBase64`.
    public static func json(_ row: StoredResult) -> [String: Any] {
        var item: [String: Any] = [
            "job": row.job, "attempt": row.attempt, "handler": row.handler,
            "status": "\(row.status)", "seq": row.seq, "durationUs": row.durationMicroseconds,
            "recordedAt": row.recordedAt,
        ]
        if let text = String(validating: row.payload, as: UTF8.self) {
            item["result"] = text
        } else {
            item["resultBase64"] = Data(row.payload).base64EncodedString()
        }
        return item
    }

    private func page(after: UInt64, limit: Int) -> [UInt8] {
        let rows = (try? store.page(after: Int64(after), limit: limit)) ?? []
        let items = rows.map(Self.json)
        let object: [String: Any] = ["results": items, "next": rows.last?.seq ?? Int64(after)]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    // MARK: Heartbeats

    private func beat() async {
        var beats = 0
        while (try? await sleep(for: configuration.heartbeat)) != nil {
            beats += 1
            toDispatcher?.post(.heartbeat)
            if beats % 3 == 0 { resendDone() }
            let dropped = waiters.expire(now: .now)
            if dropped > 0 { logger.info("dropped waits for \(dropped) jobs nobody asked about for \(configuration.waitLifetime)") }
            if ContinuousClock.now - heardFromDispatcher > configuration.heartbeat * 4 {
                logger.warning("dispatcher silent; reconnecting")
                try? connectDispatcher()
            }
        }
    }
}
