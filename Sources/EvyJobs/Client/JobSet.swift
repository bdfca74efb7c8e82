import DequeModule
import Evy

/// Jobs whose outcomes are taken as they finish, each with a tag of the caller's (Celery's
/// `as_completed`, GreenPool's wait-any): the shape of a crawl, where each page's outcome brings
/// new work whatever order the pages finish in.
///
/// ```swift
/// let set = try JobSet<String>(client: client, limit: 500)
/// try await set.submit("fetch", payload: Array(url.utf8), tag: url)
/// while let (url, outcome) = try await set.next() { … }   // outcome: Result<JobOutcome, any Error>
/// ```
/// - ``submit(_:payload:options:tag:)`` waits while `limit` jobs are outstanding, and returns
///   once the submit is sent (acknowledgements and outcomes come in the background). A consumer
///   that submits the work its outcomes bring (a crawl) must not be bounded: it would wait for
///   room that only it can make; give it `limit: .max`.
/// - ``next()`` returns the next outcome to arrive, with its tag; a submit the dispatcher
///   refused comes back the same way, as a failure. Nil once nothing is outstanding.
/// - A job a dedup key made the same as another's still gets its own place: both tags come
///   back with the one outcome.
/// - If the collector refuses the set's question or the client closes, everything outstanding
///   (and anything submitted later) comes back as that error.
/// Hub-confined; one consumer.
public final class JobSet<Tag: Sendable>: @unchecked Sendable {
    /// The most jobs submitted and not yet taken.
    public let limit: Int
    private var outstanding = 0
    private var arrived = Deque<(tag: Tag, result: Result<JobOutcome, any Error>)>()
    private let news = Flag()
    private var router: OutcomeRouter<Tag>!

    /// A set of jobs submitted through `client`, at most `limit` outstanding. Throws
    /// ``JobClientError/noCollector`` if the client has no collector endpoint.
    public init(client: JobClient, limit: Int = 1000) throws {
        self.limit = Swift.max(1, limit)
        // Weak: submits still in flight keep the router alive after the set is gone.
        router = try OutcomeRouter(client: client) { [weak self] tag, result in
            self?.arrived.append((tag, result))
            self?.news.set()
        }
    }

    /// Jobs submitted whose outcome has not been taken yet.
    public var count: Int { outstanding }

    /// Submits a job tagged `tag`, after waiting while `limit` jobs are outstanding.
    public func submit(_ handler: String, payload: [UInt8] = [], options: JobOptions = JobOptions(), tag: Tag)
        async throws
    {
        while outstanding >= limit {
            news.clear()
            try await news.wait()
        }
        outstanding += 1
        router.submit(handler, payload: payload, options: options, for: tag)
    }

    /// The next outcome to arrive and its job's tag (waiting for one); nil when none is outstanding.
    public func next() async throws -> (tag: Tag, result: Result<JobOutcome, any Error>)? {
        try await take(deadline: nil)
    }

    /// ``next()``, waiting at most `timeout` (`.zero`: only what has arrived already); nil also
    /// when nothing arrived in time (``count`` tells the two apart).
    public func next(timeout: Duration) async throws -> (tag: Tag, result: Result<JobOutcome, any Error>)? {
        try await take(deadline: .now + timeout)
    }

    private func take(deadline: ContinuousClock.Instant?) async throws -> (
        tag: Tag, result: Result<JobOutcome, any Error>
    )? {
        while arrived.isEmpty {
            guard outstanding > 0 else { return nil }
            news.clear()
            if let deadline {
                let left = deadline - .now
                guard left > .zero else { return nil }
                _ = try await news.wait(timeout: left)
            } else {
                try await news.wait()
            }
        }
        outstanding -= 1
        news.set()  // room for a waiting submit
        return arrived.popFirst()
    }
}
