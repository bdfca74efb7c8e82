/// What a handler gets for one attempt at a job: the payload, who it is, and a way to report
/// progress. Hub-confined: use it from the handler's green thread.
public struct JobContext: Sendable {
    /// The job's id.
    public let job: UInt64
    /// This attempt, from 1 (more than 1: an earlier attempt failed or its worker was lost).
    public let attempt: UInt32
    /// The handler's name.
    public let handler: String
    /// What the submitter sent.
    public let payload: [UInt8]
    let reportProgress: @Sendable (UInt64, UInt64, String) -> Void

    /// Tells whoever waits for this job how far it is (`done` of `total`). Never waits, never
    /// throws; progress notes may be dropped under load, results never are.
    public func progress(_ done: UInt64, of total: UInt64, _ message: String = "") {
        reportProgress(done, total, message)
    }

    /// The payload as UTF-8 text (invalid bytes replaced).
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

/// A handler: one attempt at a job, returning the result bytes. Throwing fails the attempt; it
/// is retried unless the error is a ``JobFailure`` with `retryable` false. A cancelled job sees
/// Swift task cancellation (and Evy's kill) at its next wait.
public typealias JobHandler = @Sendable (JobContext) async throws -> [UInt8]

/// An error a handler throws to say whether its job may be retried.
public struct JobFailure: Error, CustomStringConvertible, Sendable {
    /// What went wrong (recorded with the job).
    public var message: String
    /// Whether another attempt may succeed (a timeout, a 503), or not (bad input).
    public var retryable: Bool
    /// The least time before another attempt (an HTTP `Retry-After`), if the failure says; the
    /// dispatcher waits the longer of it and its own backoff. Up to 49 days (a u32 of milliseconds).
    public var retryAfter: Duration?

    /// A failure with `message`; retryable unless said otherwise, not before `retryAfter` if given.
    public init(_ message: String, retryable: Bool = true, retryAfter: Duration? = nil) {
        self.message = message
        self.retryable = retryable
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}
