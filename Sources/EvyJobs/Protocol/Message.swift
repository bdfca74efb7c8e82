/// Every message of the EvyJobs wire protocol (docs/protocol.md), as values. A message travels
/// as ZeroMQ frames: the signature `EVY1`, one command byte, a header whose fields depend on the
/// command, then the payload frames (at most one), which only the handler reads.
/// ``MessageCodec`` turns one into the other; it is pure (no I/O) and refuses what it cannot read.
public enum Message: Sendable, Equatable {
    // MARK: Client and dispatcher

    /// Client → dispatcher: queue a job; answered with ``submitted(request:job:duplicate:)`` once
    /// the job is committed to the journal, or ``error(request:code:reason:)``.
    case submit(request: UInt64, handler: String, options: JobOptions, payload: [UInt8])
    /// Dispatcher → client: the job's id; `duplicate` when its dedup key named an earlier job,
    /// whose id this is.
    case submitted(request: UInt64, job: UInt64, duplicate: Bool)
    /// Client → dispatcher: cancel a job (removed if queued, aborted in its worker if running).
    case cancel(request: UInt64, job: UInt64)
    /// Dispatcher → client: what the cancel did.
    case cancelled(request: UInt64, job: UInt64, outcome: CancelOutcome)
    /// Client → dispatcher or collector: a read-only question (`status`, `active`, `scheduled`,
    /// `dead` for the dispatcher; `results` for the collector), at most `limit` items.
    case query(request: UInt64, topic: String, after: UInt64, limit: UInt32)
    /// Dispatcher or collector → client: the answer to a query or dead-letter action, a JSON
    /// document (UTF-8).
    case answer(request: UInt64, json: [UInt8])
    /// Client → dispatcher: `retry` or `purge` a dead job (`job` 0: every dead job).
    case deadLetters(request: UInt64, action: DeadLetterAction, job: UInt64)

    // MARK: Worker (and collector) and dispatcher

    /// Worker or collector → dispatcher, first message on a connection: who it is and, for a
    /// worker, how many jobs it can run at once (its credit), which handlers it serves and the
    /// jobs it still holds from before a reconnect.
    case ready(Ready)
    /// Dispatcher → worker or collector: the handshake's answer; to the collector it carries the
    /// ``LeaseKey`` its results' tokens are checked with (empty: no check).
    case welcome(heartbeatMilliseconds: UInt32, liveness: UInt8, leaseKey: [UInt8] = [])
    /// Dispatcher → worker: run a job. `attempt` (from 1) fences its result; `token` (0: none)
    /// goes back with it, proof that the job was given.
    case job(Lease, handler: String, timeoutMilliseconds: UInt32, payload: [UInt8], token: UInt64 = 0)
    /// Worker → dispatcher: `slots` more jobs may be sent.
    case credit(slots: UInt32)
    /// Worker → dispatcher: the attempt failed; `retryable` lets the retry policy decide, and a
    /// `retryAfterMilliseconds` other than 0 (an HTTP `Retry-After`) is the least it waits.
    case failed(Lease, retryable: Bool, error: String, retryAfterMilliseconds: UInt32 = 0)
    /// Dispatcher → worker: cancel a running job.
    case abort(job: UInt64)
    /// Worker → dispatcher: a job given back unrun (draining, or not served).
    case giveBack(Lease)
    /// Worker → dispatcher: take no more jobs from now on (graceful drain).
    case drain
    /// Either way: I am alive (any message counts as one).
    case heartbeat
    /// Collector → dispatcher: these attempts' results are recorded; the jobs are done.
    case done([Completion])
    /// Dispatcher → collector: these jobs' `done` messages are handled (the collector stops
    /// re-sending them).
    case doneAcknowledged(jobs: [UInt64])
    /// Dispatcher → collector: record a final outcome the dispatcher decided (dead, cancelled).
    case record(Lease, handler: String, status: JobStatus, error: String)

    // MARK: Worker and collector

    /// Worker → collector: an attempt's result (`status` ok or failed-for-good), its payload the
    /// handler's output.
    case result(
        Lease, handler: String, status: JobStatus, durationMicroseconds: UInt64, payload: [UInt8], token: UInt64 = 0)
    /// Collector → worker: these jobs' results are recorded (the worker drops its copies).
    case recorded(jobs: [UInt64])
    /// Worker → collector, relayed to waiting clients: how far a running job is.
    case progress(Lease, done: UInt64, total: UInt64, message: String)

    // MARK: Client and collector

    /// Client → collector: tell me the outcome of these jobs (at once for those recorded).
    case wait(request: UInt64, jobs: [UInt64])
    /// Collector → client: a job's recorded outcome, its payload the result (or the error text).
    case outcome(request: UInt64, job: UInt64, attempt: UInt32, status: JobStatus, handler: String, payload: [UInt8])
    /// Collector → client: progress of a job the client waits for.
    case progressNote(request: UInt64, job: UInt64, done: UInt64, total: UInt64, message: String)

    // MARK: Any

    /// Any role → its peer: a request could not be served, or a message could not be read.
    case error(request: UInt64, code: ErrorCode, reason: String)
}

/// How a job is to be run, chosen by whoever submits it.
public struct JobOptions: Sendable, Equatable {
    /// 0 (lowest) to 255; higher runs first.
    public var priority: UInt8 = 0
    /// Not before this time (Unix milliseconds; 0: now).
    public var notBefore: UInt64 = 0
    /// Retries after failures before the job goes to the dead letters (255: the dispatcher's default).
    public var maxRetries: UInt8 = 255
    /// How long one attempt may run (0: no limit).
    public var timeoutMilliseconds: UInt32 = 0
    /// A second submission with the same non-empty key gets the first job's id.
    public var dedupKey: String = ""
    /// Jobs with the same non-empty key share `concurrencyLimit` and `spacingMilliseconds` across
    /// all workers.
    public var concurrencyKey: String = ""
    /// At most this many jobs of `concurrencyKey` run at once (0: no limit).
    public var concurrencyLimit: UInt16 = 0
    /// At least this long between the starts of two jobs of `concurrencyKey`.
    public var spacingMilliseconds: UInt32 = 0

    /// The defaults: priority 0, now, the default retries, no limits.
    public init() {}
}

/// One attempt at a job: the job's id and the attempt number (from 1), which fences results.
public struct Lease: Sendable, Hashable {
    /// The job.
    public var job: UInt64
    /// The attempt, from 1.
    public var attempt: UInt32

    /// The lease of `attempt` at `job`.
    public init(job: UInt64, attempt: UInt32) {
        self.job = job
        self.attempt = attempt
    }
}

/// What a worker (or the collector) says about itself in its first message.
public struct Ready: Sendable, Equatable {
    /// `worker` or `collector`.
    public var role: PeerRole
    /// A name unique to the process (host and pid by default).
    public var name: String
    /// The machine it runs on.
    public var host: String
    /// Its process id.
    public var pid: UInt32
    /// How many jobs it runs at once: its initial credit (0 for a collector).
    public var slots: UInt32
    /// How often it sends heartbeats.
    public var heartbeatMilliseconds: UInt32
    /// The handlers it serves.
    public var handlers: [String]
    /// Jobs it still runs or holds results of, from before a reconnect.
    public var held: [Lease]

    /// A `Ready` with every field given.
    public init(
        role: PeerRole, name: String, host: String, pid: UInt32, slots: UInt32, heartbeatMilliseconds: UInt32,
        handlers: [String], held: [Lease]
    ) {
        self.role = role
        self.name = name
        self.host = host
        self.pid = pid
        self.slots = slots
        self.heartbeatMilliseconds = heartbeatMilliseconds
        self.handlers = handlers
        self.held = held
    }
}

/// Who sent a ``Message/ready(_:)``.
public enum PeerRole: UInt8, Sendable {
    case worker = 1
    case collector = 2
}

/// A job's recorded outcome.
public enum JobStatus: UInt8, Sendable {
    /// The handler returned; the payload is its output.
    case succeeded = 0
    /// The handler failed and will not be retried; the payload is the error.
    case failed = 1
    /// Failed past its retries, or lost too often; kept in the dead letters.
    case dead = 2
    /// Cancelled before it finished.
    case cancelled = 3
}

/// One job the collector recorded, as it tells the dispatcher.
public struct Completion: Sendable, Equatable {
    /// The attempt whose result was recorded.
    public var lease: Lease
    /// How it ended.
    public var status: JobStatus

    /// A completion of `lease` with `status`.
    public init(lease: Lease, status: JobStatus) {
        self.lease = lease
        self.status = status
    }
}

/// What a ``Message/cancel(request:job:)`` did.
public enum CancelOutcome: UInt8, Sendable {
    /// No such job.
    case notFound = 0
    /// It was queued and is removed.
    case removed = 1
    /// It was running; its worker was told to stop it.
    case aborting = 2
    /// It had already finished.
    case alreadyDone = 3
}

/// What to do with dead letters.
public enum DeadLetterAction: UInt8, Sendable {
    /// Queue them again, with fresh retries.
    case retry = 1
    /// Delete them.
    case purge = 2
}

/// Why a request failed, in ``Message/error(request:code:reason:)``; numbered after HTTP's codes.
public enum ErrorCode: UInt16, Sendable {
    /// A message that could not be read (truncated, a bad field, an unknown command).
    case malformed = 400
    /// No such job.
    case unknownJob = 404
    /// A message that does not fit the sender's state (a result for a lease it does not hold,
    /// a job message before READY).
    case conflict = 409
    /// A payload or a field over its limit.
    case tooLarge = 413
    /// Too many requests in flight from this peer: retry later.
    case busy = 429
    /// The journal cannot write (a full disk): nothing was accepted.
    case storageUnavailable = 503
    /// A protocol version this peer does not speak.
    case unsupportedVersion = 505
    /// Anything else that went wrong on this side.
    case internalError = 500
}
