import DequeModule
import Evy

/// Fan-out and fan-in across processes, on the ``GreenPile`` pattern: submit jobs, then take
/// their outcomes in submission order, whichever worker runs them and whenever they finish.
///
/// ```swift
/// let pile = try JobPile(client: client, limit: 100)
/// for url in feeds { try await pile.submit("fetch", payload: Array(url.utf8)) }
/// for try await outcome in pile { print(outcome.status, outcome.text) }
/// ```
/// - Order: ``next()`` gives the outcome of the oldest job not yet taken, waiting for it if it
///   is still running; later jobs' outcomes wait in the pile meanwhile.
/// - Errors in place: a job that failed, went dead or was cancelled is an outcome like the others
///   (its `status` says so, its payload is the error); a submit the dispatcher refused throws
///   from ``next()`` at that job's place, and the jobs after it are still there.
/// - Bound: at most `limit` jobs are submitted and not yet taken; ``submit(_:payload:options:)``
///   waits for room, so a producer cannot run ahead of its consumer.
/// - ``submit(_:payload:options:)`` returns once the submit is sent; its acknowledgement and the
///   outcome are awaited in the background, so submits are pipelined.
/// - If the collector refuses the pile's question or the client closes, every job still out
///   (and any submitted later) throws that error from ``next()`` in its place.
/// Hub-confined (create it, use it and let it go on the hub); one consumer at a time is the
/// intended use, though two calling ``next()`` each get a different outcome.
public final class JobPile: @unchecked Sendable {
    /// One submitted job: its outcome once known, or why its submit failed.
    private final class Slot: @unchecked Sendable {
        var result: Result<JobOutcome, any Error>?
        let resolved = Flag()

        func resolve(_ result: Result<JobOutcome, any Error>) {
            guard self.result == nil else { return }
            self.result = result
            resolved.set()
        }
    }

    /// The most jobs submitted and not yet taken.
    public let limit: Int
    private var slots = Deque<Slot>()
    private let room = Flag()
    /// Set on each submit and when submitting is over (what ``JobClient/map(_:_:options:limit:)`` waits for).
    private let changed = Flag()
    /// Whether ``finishSubmitting()`` was called.
    private(set) var submissionsFinished = false
    private let router: OutcomeRouter<Slot>

    /// A pile of jobs submitted through `client`, at most `limit` outstanding. Throws
    /// ``JobClientError/noCollector`` if the client has no collector endpoint.
    public init(client: JobClient, limit: Int = 1000) throws {
        self.limit = Swift.max(1, limit)
        router = try OutcomeRouter(client: client) { slot, result in slot.resolve(result) }
    }

    /// Jobs submitted whose outcome has not been taken yet.
    public var count: Int { slots.count }

    /// Submits a job, after waiting while `limit` jobs are outstanding.
    public func submit(_ handler: String, payload: [UInt8] = [], options: JobOptions = JobOptions()) async throws {
        while slots.count >= limit {
            room.clear()
            try await room.wait()
        }
        let slot = Slot()
        slots.append(slot)
        changed.set()
        router.submit(handler, payload: payload, options: options, for: slot)
    }

    /// The outcome of the oldest job not yet taken (waiting for it), nil when none is left.
    /// Throws that job's submit error, if its submit failed.
    public func next() async throws -> JobOutcome? {
        while let slot = slots.first {
            guard let result = slot.result else {
                try await slot.resolved.wait()
                continue  // another consumer may have taken it meanwhile
            }
            slots.removeFirst()
            room.set()
            return try result.get()
        }
        return nil
    }

    /// Says no more jobs will be submitted.
    func finishSubmitting() {
        submissionsFinished = true
        changed.set()
    }

    /// Waits for the next submit, or for ``finishSubmitting()``, unless one is already there.
    func waitForMore() async throws {
        changed.clear()
        guard slots.isEmpty && !submissionsFinished else { return }
        try await changed.wait()
    }

}

extension JobPile: AsyncSequence {
    /// Iterates the outcomes in submission order (see ``JobPile/next()``).
    public struct AsyncIterator: AsyncIteratorProtocol {
        let pile: JobPile
        /// The next outcome in submission order, or nil when none is left.
        public mutating func next() async throws -> JobOutcome? { try await pile.next() }
    }

    /// An iterator over the pile's outcomes.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pile: self) }
}

extension JobClient {
    /// Runs `handler` once per payload on the workers, at most `limit` jobs outstanding, and
    /// yields the outcomes in the order of `payloads` (a GreenPool `imap` across processes).
    /// Failed jobs are outcomes in their place; a refused submit is thrown in its place. Lazy:
    /// nothing is submitted before the first `next()`, and no more than `limit` outcomes wait
    /// untaken, however slowly the caller iterates. Ending the iteration early stops submitting
    /// (jobs already submitted still run). Needs a collector endpoint.
    public func map<Payloads: Sequence & Sendable>(
        _ handler: String, _ payloads: Payloads, options: JobOptions = JobOptions(), limit: Int = 1000
    ) -> JobMap<Payloads> where Payloads.Element == [UInt8] {
        JobMap(client: self, handler: handler, payloads: payloads, options: options, limit: limit)
    }
}

/// The outcomes of ``JobClient/map(_:_:options:limit:)``, in input order. Hub-confined.
public struct JobMap<Payloads: Sequence & Sendable>: AsyncSequence, Sendable where Payloads.Element == [UInt8] {
    let client: JobClient
    let handler: String
    let payloads: Payloads
    let options: JobOptions
    let limit: Int

    /// An iteration: its own pile, fed by one green thread (stopped when the iteration is dropped).
    public struct AsyncIterator: AsyncIteratorProtocol {
        private final class Run {
            let pile: JobPile
            let feeder: GreenThread<Void>
            init(pile: JobPile, feeder: GreenThread<Void>) {
                self.pile = pile
                self.feeder = feeder
            }
            deinit { feeder.cancel() }
        }

        private var run: Run?
        private var start: (() throws -> Run)?

        init(_ map: JobMap) {
            start = {
                let pile = try JobPile(client: map.client, limit: map.limit)
                let feeder = spawn {
                    defer { pile.finishSubmitting() }
                    for payload in map.payloads {
                        try await pile.submit(map.handler, payload: payload, options: map.options)
                    }
                }
                return Run(pile: pile, feeder: feeder)
            }
        }

        /// The next outcome in input order; nil after the last.
        public mutating func next() async throws -> JobOutcome? {
            if let start {
                self.start = nil
                run = try start()
            }
            guard let pile = run?.pile else { return nil }
            while true {
                if let outcome = try await pile.next() { return outcome }
                if pile.submissionsFinished { return nil }
                try await pile.waitForMore()
            }
        }
    }

    /// A new iteration (each submits the payloads afresh).
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(self) }
}
