import Evy
import HeapModule
import EvyJobs
import Foundation

/// The feed scraper run through the job system: each poll of each feed is a `feeds.poll` job
/// (``FeedPoller`` on the workers), submitted when the feed is due by its ``PollSchedule``; the
/// outcome updates the feed's ``FeedState`` in the ``FeedStateStore`` before the next poll of it
/// is submitted.
///
/// ```swift
/// let store = try FeedStateStore(path: "feeds.sqlite")
/// try store.add(try OPML(data: bytes).feeds)
/// let summary = try await FeedScraper(client: client, store: store).run(.once)
/// ```
/// - Recording: the collector records each poll's result once (the job's id), and a poll holds
///   only entries whose keys the feed's state had not seen; so no entry is recorded twice.
/// - Resuming: poll `n` of a feed has the dedup key `feeds:STORE:FEED:n`, so a scraper killed
///   after a poll was recorded but before its state was written submits the same job again on
///   restart and takes its recorded outcome: nothing is fetched or recorded twice.
/// - Politeness: at most ``perHost`` polls of one host at once, across all workers.
/// - Failing feeds are polled on, backed off, and listed in the ``Summary``; a 410 stops a feed.
/// Hub-confined.
public final class FeedScraper: @unchecked Sendable {
    /// Which polls a run makes.
    public enum Mode: Sendable {
        /// Every active feed once, now (whatever its schedule), then return: a pass.
        case once
        /// Each active feed whenever it is due, until the green thread is killed.
        case forever
    }

    /// How far a run is.
    public struct Progress: Sendable {
        /// Polls whose outcome was taken.
        public var polls = 0
        /// Entries recorded by them.
        public var entries = 0
        /// Polls answered 304 Not Modified.
        public var notModified = 0
        /// Polls that failed.
        public var errors = 0
        /// Polls submitted and not finished.
        public var queued = 0
        /// Entries per second since the start.
        public var entriesPerSecond = 0.0
    }

    /// What a run did.
    public struct Summary: Sendable {
        /// Polls, entries, 304s and failures, as in ``Progress``.
        public var progress = Progress()
        /// Polls that found a malformed document (parsed as far as it went).
        public var bozo = 0
        /// Feeds that moved (a permanent redirect adopted): listed URL → new URL.
        public var moved: [String: String] = [:]
        /// Feeds failing at the end (their last poll failed), with their errors in a row and the last error.
        public var failing: [FeedState] = []
        /// Feeds no longer polled (410 Gone).
        public var gone: [FeedState] = []
        /// Wall-clock seconds.
        public var seconds = 0.0
    }

    private let client: JobClient
    private let store: FeedStateStore
    /// When feeds are polled.
    public let schedule: PollSchedule
    /// Polls of one host at once, across all workers.
    public var perHost = 4
    private let clock: @Sendable () -> Date

    /// A scraper of the feeds in `store`, polling through `client` on `schedule`, telling the
    /// time by `clock`.
    public init(
        client: JobClient, store: FeedStateStore, schedule: PollSchedule = PollSchedule(),
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.client = client
        self.store = store
        self.schedule = schedule
        self.clock = clock
    }

    /// Polls as `mode` says, telling `progress` every 200 ms. Throws the client's errors (a
    /// refused submit, no collector) and the store's (``JournalError``): what was taken before
    /// is written, and a new run goes on from there.
    public func run(_ mode: Mode, progress: ((Progress) -> Void)? = nil) async throws -> Summary {
        let started = ContinuousClock.now
        var states = try store.all()
        let jobs = try JobSet<Int>(client: client, limit: .max)
        // The feeds waiting for their next poll, soonest first (.once: every active feed, now).
        // A feed is in it or outstanding (submitted, outcome not taken), never both.
        var waiting = Heap(
            states.indices.filter { states[$0].status == .active }.map {
                Due(at: mode == .once ? 0 : states[$0].nextPoll, position: $0)
            })
        var outstanding = 0
        var summary = Summary()
        var lastReport = ContinuousClock.now

        while true {
            let now = clock().timeIntervalSince1970
            while let due = waiting.min, due.at <= now {
                _ = waiting.popMin()
                try await submit(states[due.position], into: jobs, tag: due.position)
                outstanding += 1
            }
            let nextDue = waiting.min?.at
            if outstanding == 0 {
                guard let nextDue else { break }
                try await sleep(for: .milliseconds(Int64(max(0, nextDue - now) * 1000) + 1))
                continue
            }
            // Outcomes are waited for only until the next feed is due.
            let arrival =
                if let nextDue {
                    try await jobs.next(timeout: .milliseconds(Int64(max(0, nextDue - now) * 1000) + 1))
                } else {
                    try await jobs.next()
                }
            guard var taken = arrival else { continue }
            // Everything that has arrived, written in one transaction.
            var changed: [Int] = []
            while true {
                let (position, result) = taken
                let poll = try Self.poll(from: result, of: states[position])
                states[position].apply(poll, schedule: schedule, now: clock())
                count(poll, state: states[position], into: &summary)
                outstanding -= 1
                changed.append(position)
                if mode == .forever, states[position].status == .active {
                    waiting.insert(Due(at: states[position].nextPoll, position: position))
                }
                guard let more = try await jobs.next(timeout: .zero) else { break }
                taken = more
            }
            try store.save(changed.map { states[$0] })
            summary.progress.queued = outstanding
            if let progress, ContinuousClock.now - lastReport >= .milliseconds(200) {
                lastReport = .now
                progress(rated(summary.progress, since: started))
            }
        }
        summary.seconds = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
        summary.progress = rated(summary.progress, since: started)
        summary.failing = states.filter { $0.status == .active && $0.errors > 0 }
        summary.gone = states.filter { $0.status == .gone }
        progress?(summary.progress)
        return summary
    }

    private func submit(_ state: FeedState, into jobs: JobSet<Int>, tag: Int) async throws {
        var options = JobOptions()
        options.dedupKey = "feeds:\(store.storeID):\(state.id):\(state.polls + 1)"
        options.concurrencyKey = URL(string: state.url)?.host.map { "feeds-host:\($0)" } ?? ""
        options.concurrencyLimit = UInt16(clamping: perHost)
        try await jobs.submit(
            FeedPoller.handlerName, payload: state.task.json, options: options, tag: tag)
    }

    /// The poll a job's outcome holds; a job that failed (a worker lost too often, a task the
    /// worker refused) is a failed poll. A refused submit or a lost collector is thrown.
    private static func poll(from result: Result<JobOutcome, any Error>, of state: FeedState) throws -> FeedPoll {
        let outcome = try result.get()
        if outcome.status == .succeeded,
            let poll = try? JSONDecoder().decode(FeedPollHeader.self, from: Data(outcome.payload)).poll
        {
            return poll
        }
        var poll = FeedPoll(feed: state.feed, url: state.url)
        poll.error = "the poll's job \(outcome.job) ended \(outcome.status): \(outcome.text)"
        return poll
    }

    private func count(_ poll: FeedPoll, state: FeedState, into summary: inout Summary) {
        summary.progress.polls += 1
        summary.progress.entries += poll.error == nil ? poll.newEntries : 0
        if poll.notModified { summary.progress.notModified += 1 }
        if poll.error != nil { summary.progress.errors += 1 }
        if poll.bozo != nil && poll.error == nil { summary.bozo += 1 }
        if state.url != state.feed { summary.moved[state.feed] = state.url }
    }

    private func rated(_ progress: Progress, since started: ContinuousClock.Instant) -> Progress {
        var progress = progress
        let seconds = max(0.001, Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000)
        progress.entriesPerSecond = Double(progress.entries) / seconds
        return progress
    }
}

/// A feed's next poll time (seconds since 1970) and its place in the scraper's states.
private struct Due: Comparable {
    var at: Double
    var position: Int

    static func < (left: Due, right: Due) -> Bool { (left.at, left.position) < (right.at, right.position) }
}
