import Evy
import EvyZMQ
import Foundation

/// A job's recorded outcome, as a client receives it.
public struct JobOutcome: Sendable, Equatable {
    /// The job.
    public var job: UInt64
    /// The attempt whose result was recorded.
    public var attempt: UInt32
    /// How it ended.
    public var status: JobStatus
    /// The handler that ran it.
    public var handler: String
    /// The handler's output, or the error text for a failed, dead or cancelled job.
    public var payload: [UInt8]

    /// The payload as UTF-8 text.
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

/// What went wrong with a request to the dispatcher or the collector.
public enum JobClientError: Error, Equatable, CustomStringConvertible {
    /// The peer answered ERROR.
    case refused(ErrorCode, String)
    /// No answer within the timeout.
    case noAnswer(String)
    /// The collector endpoint was not given.
    case noCollector

    public var description: String {
        switch self {
        case .refused(let code, let reason): "refused (\(code.rawValue)): \(reason)"
        case .noAnswer(let what): "no answer to \(what) in time"
        case .noCollector: "no collector endpoint given"
        }
    }
}

/// The client of the job system: submit jobs to the dispatcher (acknowledged once journaled),
/// wait for their outcomes from the collector, cancel, ask for status and inspect.
///
/// ```swift
/// let client = try JobClient(dispatcher: "tcp://127.0.0.1:5555", collector: "tcp://127.0.0.1:5558")
/// let job = try await client.submit("resize", payload: bytes)
/// for try await outcome in client.outcomes(of: [job]) { print(outcome.text) }
/// ```
/// Many submits may be in flight at once from many green threads (they are pipelined on one
/// socket). Every request has a deadline (`timeout`); a dispatcher that does not answer makes it
/// throw ``JobClientError/noAnswer(_:)``, never hang. Hub-confined.
public final class JobClient: @unchecked Sendable {
    private let dispatcher: ZMQSocket
    private let collector: ZMQSocket?
    private var nextRequest: UInt64 = 1
    private var pending: [UInt64: Event<Message>] = [:]
    private var streams: [UInt64: OutcomeWait] = [:]
    /// Jobs asked about (per registration) that the next flush sends to the collector.
    private var unsentAsks: [UInt64: [UInt64]] = [:]
    /// The ``submitMany(_:window:)`` calls in progress, each owning a range of request ids.
    private var batches: [SubmitBatch] = []
    private var readers: [GreenThread<Void>] = []
    /// How long a request (cancel, a query, dead letters) waits to be sent and answered; then it
    /// throws ``JobClientError/noAnswer(_:)`` (also when no peer is connected: not started, or
    /// refusing this client's CURVE key).
    public var timeout: Duration = .seconds(30)
    /// How long an ``outcomes(of:progress:)`` stream waits without news before asking again
    /// (doubling, up to 12 times as long, while the collector stays silent).
    public var outcomeRefresh: Duration = .seconds(5)
    /// The most jobs one stream (or ``JobPile``, ``JobSet``) asks the collector about at once; the
    /// others are asked about when outcomes have brought it to half. It keeps a wait for millions
    /// of jobs from making the collector hold them all. The collector's bound
    /// (``Collector/Configuration/maxWaitedJobsPerClient``, 200,000) is per client, shared by its
    /// streams: jobs refused beyond it are asked about again after the refresh pause.
    public var outcomeWindow = 50_000
    private var isClosed = false

    /// Connects to the dispatcher's client endpoint and, if given, the collector's client
    /// endpoint; with `keys` (the client's pair, the dispatcher's and the collector's public keys)
    /// over CURVE. Throws ``JobKeysError/missing(_:)`` when a server's key is not in `keys`.
    public init(dispatcher: String, collector: String? = nil, keys: JobKeys? = nil) throws {
        self.dispatcher = try .forRole(.dealer)
        if let keys { try keys.connect(self.dispatcher, to: keys.dispatcher, "dispatcher") }
        try self.dispatcher.connect(dispatcher)
        if let collector {
            let socket = try ZMQSocket.forRole(.dealer)
            if let keys { try keys.connect(socket, to: keys.collector, "collector") }
            try socket.connect(collector)
            self.collector = socket
        } else {
            self.collector = nil
        }
        readers.append(spawn { [self] in await read(self.dispatcher) })
        if let collector = self.collector { readers.append(spawn { [self] in await read(collector) }) }
    }

    /// Closes both connections; requests, submits and outcome streams still waiting throw
    /// ``JobClientError/noAnswer(_:)``, and later ones throw it at once.
    public func close() {
        isClosed = true
        for reader in readers { reader.cancel() }
        for batch in batches { batch.failed(JobClientError.noAnswer("submits (client closed)")) }
        dispatcher.close(linger: .zero)
        collector?.close(linger: .zero)
        for event in pending.values { try? event.send(error: JobClientError.noAnswer("a request (client closed)")) }
        for wait in streams.values { wait.finish(JobClientError.noAnswer("outcomes (client closed)")) }
        pending = [:]
        streams = [:]
    }

    // MARK: Submitting

    /// Submits one job and returns its id once the dispatcher has journaled it (the id of the
    /// earlier job when `options.dedupKey` was seen before).
    @discardableResult
    public func submit(_ handler: String, payload: [UInt8] = [], options: JobOptions = JobOptions()) async throws
        -> UInt64
    {
        try await submitReceipt(handler, payload: payload, options: options).job
    }

    /// Submits one job: its id, and whether it was a duplicate of an earlier one.
    public func submitReceipt(_ handler: String, payload: [UInt8] = [], options: JobOptions = JobOptions()) async throws
        -> (job: UInt64, duplicate: Bool)
    {
        let reply = try await ask(dispatcher, "submit") {
            .submit(request: $0, handler: handler, options: options, payload: payload)
        }
        guard case .submitted(_, let job, let duplicate) = reply else { throw unexpected(reply) }
        return (job, duplicate)
    }

    /// Submits many jobs with up to `window` in flight, and returns their ids in order (an
    /// earlier job's id where a dedup key matched). Pipelined on the one socket by this green
    /// thread: no green thread per job. Throws the first refusal (the jobs acknowledged before it
    /// stay queued, and so may up to `window` submitted after it, whose ids are not returned), or ``JobClientError/noAnswer(_:)`` when no answer came for ``timeout``.
    public func submitMany(_ jobs: [(handler: String, payload: [UInt8], options: JobOptions)], window: Int = 1000)
        async throws -> [UInt64]
    {
        guard !jobs.isEmpty else { return [] }
        let batch = SubmitBatch(first: nextRequest, count: jobs.count)
        nextRequest += UInt64(jobs.count)
        batches.append(batch)
        defer { batches.removeAll { $0 === batch } }
        for (index, job) in jobs.enumerated() {
            while batch.inFlight >= max(1, window) { try await batch.awaitAnswers(timeout: timeout) }
            do {
                try await dispatcher.send(
                    .submit(request: batch.first + UInt64(index), handler: job.handler, options: job.options,
                            payload: job.payload), timeout: timeout)
            } catch is TimeoutError {
                throw JobClientError.noAnswer("submits (the dispatcher took none for \(timeout))")
            }
            batch.inFlight += 1
        }
        while batch.inFlight > 0 { try await batch.awaitAnswers(timeout: timeout) }
        return batch.ids
    }

    // MARK: Outcomes

    /// The outcomes of `jobs`, each as soon as it is recorded (in the order they finish); ends
    /// after the last, or throws ``JobClientError/refused(_:_:)`` if the collector refuses the
    /// question (busy excepted: that is asked again). `progress` hears of progress reports (job,
    /// done, total, message). The collector is asked about at most ``outcomeWindow`` of the jobs
    /// at once, and about more as outcomes come. A stream that hears nothing for
    /// ``outcomeRefresh``, or was answered busy, asks the collector again for the jobs it has
    /// asked about and not heard of (a restarted collector has forgotten who waits); each outcome
    /// is delivered once. Ending the iteration early forgets the stream.
    public func outcomes(of jobs: [UInt64], progress: ((UInt64, UInt64, UInt64, String) -> Void)? = nil)
        -> AsyncThrowingStream<JobOutcome, any Error>
    {
        AsyncThrowingStream { continuation in
            guard !jobs.isEmpty else { return continuation.finish() }
            let wait = OutcomeWait(
                jobs: jobs, progress: progress, deliver: { continuation.yield($0) },
                end: { continuation.finish(throwing: $0) })
            do {
                let request = try register(wait)
                // Runs on any thread (the consumer may stop early): forget the stream on the hub.
                let hub = Hub.current
                continuation.onTermination = { [self] _ in _ = hub.callFromThread { self.forget(request) } }
            } catch {
                continuation.finish(throwing: error)
            }
        }
    }

    /// Registers `wait` at the collector under a new request id and asks for the first
    /// ``outcomeWindow`` of its jobs (again whenever the collector has been silent about them for
    /// ``outcomeRefresh``, or answered busy, then twice as long, up to 12 times) until it ends.
    /// Throws ``JobClientError/noCollector`` without a collector endpoint,
    /// ``JobClientError/noAnswer(_:)`` once closed; a WAIT that cannot be sent ends the
    /// registration with the socket's error.
    func register(_ wait: OutcomeWait) throws -> UInt64 {
        guard let collector else { throw JobClientError.noCollector }
        guard !isClosed else { throw JobClientError.noAnswer("outcomes (client closed)") }
        let request = takeRequestID()
        streams[request] = wait
        wait.refresher = spawn { [self] in
            var jobs = wait.nextAsks(window: outcomeWindow)
            var pause = outcomeRefresh
            while !wait.isFinished, streams[request] === wait {
                do {
                    for chunk in jobs.chunks() { try await collector.send(.wait(request: request, jobs: Array(chunk))) }
                } catch {
                    if !(error is CancellationError) { streams.removeValue(forKey: request)?.finish(error) }
                    return
                }
                let asked = ContinuousClock.now
                repeat {
                    guard (try? await sleep(for: pause)) != nil else { return }
                } while ContinuousClock.now - wait.lastHeard < pause && !wait.isFinished && !wait.wasRefused
                // Refused, or silent since: back off (a busy collector is not pestered).
                let refused = wait.takeRefusal()
                pause = refused || wait.lastHeard < asked ? min(pause * 2, outcomeRefresh * 12) : outcomeRefresh
                jobs = Array(wait.asked) + wait.nextAsks(window: outcomeWindow)
            }
        }
        return request
    }

    /// Adds `jobs` to the registration `request` and asks the collector for them; false if the
    /// registration has ended (the caller must not wait for them).
    func ask(for jobs: [UInt64], in request: UInt64) -> Bool {
        guard let wait = streams[request] else { return false }
        wait.add(jobs)
        askMore(in: request, wait)
        return true
    }

    /// Asks the collector about the jobs of `wait` that fit its window now.
    private func askMore(in request: UInt64, _ wait: OutcomeWait) {
        guard let collector else { return }
        let jobs = wait.nextAsks(window: outcomeWindow)
        guard !jobs.isEmpty else { return }
        // One message for every job asked about in this turn of the hub (a JobSet asks once per
        // acknowledged submit, and acknowledgements come in bursts).
        if unsentAsks[request] != nil {
            unsentAsks[request]! += jobs
            return
        }
        unsentAsks[request] = jobs
        spawnN { [self] in
            let all = unsentAsks.removeValue(forKey: request) ?? []
            // A send that fails (the client closed meanwhile) loses nothing: the registration's
            // refresh asks again for every job still outstanding.
            for chunk in all.chunks() where !isClosed {
                try? await collector.send(.wait(request: request, jobs: Array(chunk)))
            }
        }
    }

    /// Ends the registration `request` without a word to the collector (its answers are
    /// dropped) or to the registration's owner.
    func forget(_ request: UInt64) {
        streams.removeValue(forKey: request)?.abandon()
    }

    /// Waits for one job's outcome.
    public func wait(for job: UInt64, timeout: Duration? = nil) async throws -> JobOutcome {
        try await withTimeout(timeout, label: "job \(job)") {
            for try await outcome in self.outcomes(of: [job]) { return outcome }
            throw JobClientError.noAnswer("job \(job)")
        }
    }

    // MARK: Control and questions

    /// Cancels a job: removed if queued, aborted if running.
    public func cancel(_ job: UInt64) async throws -> CancelOutcome {
        let reply = try await ask(dispatcher, "cancel") { .cancel(request: $0, job: job) }
        guard case .cancelled(_, _, let outcome) = reply else { throw unexpected(reply) }
        return outcome
    }

    /// The dispatcher's answer about `topic` (`status`, `active`, `scheduled`, `dead`), as JSON.
    public func query(_ topic: String, limit: UInt32 = 100) async throws -> [UInt8] {
        try await answer(ask(dispatcher, topic) { .query(request: $0, topic: topic, after: 0, limit: limit) })
    }

    /// The collector's answer about `topic` (`status`, or `results` after a sequence number), as JSON.
    public func queryCollector(_ topic: String, after: UInt64 = 0, limit: UInt32 = 1000) async throws -> [UInt8] {
        guard let collector else { throw JobClientError.noCollector }
        return try await answer(ask(collector, topic) { .query(request: $0, topic: topic, after: after, limit: limit) })
    }

    /// Retries or purges dead jobs (`job` 0: all of them); returns how many.
    public func deadLetters(_ action: DeadLetterAction, job: UInt64 = 0) async throws -> Int {
        let json = try await answer(
            ask(dispatcher, "dead letters") { .deadLetters(request: $0, action: action, job: job) })
        let object = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
        return object?["count"] as? Int ?? 0
    }

    // MARK: Requests and replies

    private func takeRequestID() -> UInt64 {
        defer { nextRequest += 1 }
        return nextRequest
    }

    private func ask(_ socket: ZMQSocket, _ what: String, _ message: (UInt64) -> Message) async throws -> Message {
        let request = takeRequestID()
        let reply = Event<Message>()
        pending[request] = reply
        defer { pending[request] = nil }
        let deadline = ContinuousClock.now + timeout
        do {
            // The send is timed too: with no peer connected (not started, or refused in the CURVE
            // handshake) a DEALER's send waits for one.
            try await socket.send(message(request), timeout: timeout)
            return try await reply.wait(timeout: max(.zero, deadline - .now))
        } catch is TimeoutError {
            throw JobClientError.noAnswer(what)
        }
    }

    private func answer(_ reply: Message) throws -> [UInt8] {
        guard case .answer(_, let json) = reply else { throw unexpected(reply) }
        return json
    }

    private func unexpected(_ reply: Message) -> JobClientError {
        if case .error(_, let code, let reason) = reply { return .refused(code, reason) }
        return .refused(.internalError, "unexpected reply \(reply)")
    }

    private func deliver(_ reply: Message, _ request: UInt64) { try? pending[request]?.send(reply) }

    private func batch(of request: UInt64) -> SubmitBatch? {
        batches.first { $0.owns(request) }
    }

    private func read(_ socket: ZMQSocket) async {
        while let envelope = try? await socket.receiveEnvelope(routed: false) {
            guard case .success(let message) = envelope.message else { continue }
            switch message {
            case .outcome(let request, let job, let attempt, let status, let handler, let payload):
                guard let wait = streams[request] else { continue }
                wait.deliver(JobOutcome(job: job, attempt: attempt, status: status, handler: handler, payload: payload))
                if wait.isFinished {
                    streams[request] = nil
                } else if wait.wantsMoreAsks(window: outcomeWindow) {
                    askMore(in: request, wait)
                }
            case .progressNote(let request, let job, let done, let total, let note):
                streams[request]?.heard()
                streams[request]?.progress?(job, done, total, note)
            case .error(let request, .busy, _) where streams[request] != nil:
                // The collector holds as many waits of ours as it will: the refresh asks again.
                streams[request]?.refused()
            case .error(let request, let code, let reason) where streams[request] != nil:
                streams.removeValue(forKey: request)?.finish(JobClientError.refused(code, reason))
            case .submitted(let request, let job, _):
                if let batch = batch(of: request) { batch.answered(request, job: job) } else { deliver(message, request) }
            case .error(let request, let code, let reason):
                if let batch = batch(of: request) {
                    batch.failed(JobClientError.refused(code, reason))
                } else {
                    deliver(message, request)
                }
            case .cancelled(let request, _, _), .answer(let request, _):
                deliver(message, request)
            default:
                break
            }
        }
    }
}
