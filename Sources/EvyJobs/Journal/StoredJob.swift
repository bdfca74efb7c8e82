/// Where a job is in its life, as the dispatcher's journal stores it.
public enum JobState: Int64, Sendable {
    /// Waiting to run, running, or waiting for a retry.
    case queued = 0
    /// Finished (its result is with the collector); kept so its dedup key stays taken.
    case done = 1
    /// Failed past its retries or lost too often: in the dead letters.
    case dead = 2
    /// Cancelled.
    case cancelled = 3
    /// Failed for good (not retryable).
    case failed = 4
}

/// A job as the dispatcher's journal stores it. A value; `Sendable`.
public struct StoredJob: Sendable, Equatable {
    /// Its id, from 1, never reused.
    public var id: UInt64
    /// The handler that runs it.
    public var handler: String
    /// How it is to be run (`notBefore` is the next attempt's earliest start after a retry).
    public var options: JobOptions
    /// The handler's input (empty once the job is done, cancelled or failed).
    public var payload: [UInt8]
    /// Attempts that failed so far.
    public var attempts: UInt32
    /// Attempts lost with their worker so far.
    public var lost: UInt32
    /// Where it is.
    public var state: JobState
    /// The last failure's text ("" if none).
    public var lastError: String
    /// When it was submitted (Unix milliseconds).
    public var submittedAt: UInt64

    /// A stored job with every field given.
    public init(
        id: UInt64, handler: String, options: JobOptions, payload: [UInt8], attempts: UInt32 = 0,
        lost: UInt32 = 0, state: JobState = .queued, lastError: String = "", submittedAt: UInt64 = 0
    ) {
        self.id = id
        self.handler = handler
        self.options = options
        self.payload = payload
        self.attempts = attempts
        self.lost = lost
        self.state = state
        self.lastError = lastError
        self.submittedAt = submittedAt
    }
}

/// A job to submit to the dispatcher's journal.
public struct NewJob: Sendable, Equatable {
    /// The handler that runs it.
    public var handler: String
    /// How it is to be run.
    public var options: JobOptions
    /// The handler's input.
    public var payload: [UInt8]
    /// When it was submitted (Unix milliseconds).
    public var submittedAt: UInt64

    /// A new job with every field given.
    public init(handler: String, options: JobOptions = JobOptions(), payload: [UInt8], submittedAt: UInt64) {
        self.handler = handler
        self.options = options
        self.payload = payload
        self.submittedAt = submittedAt
    }
}

/// What a submission did.
public enum SubmitOutcome: Sendable, Equatable {
    /// The job is committed, with its new id.
    case accepted(StoredJob)
    /// Its dedup key was taken by an earlier job (in any state), whose id this is; nothing was written.
    case duplicate(jobID: UInt64)
}
