import Foundation

/// When a feed is polled next: pure arithmetic on what the last poll found, the same on every
/// run. Miniflux's "entry frequency" scheduler with its two standing complaints answered: a feed
/// that keeps failing is backed off but never given up on (it stays in the schedule and in the
/// failing list), and what the server asks for is honoured.
///
/// - A poll that worked: a week divided by the entries published in the last week, between
///   ``minInterval`` and ``maxInterval`` (no recent entries: ``maxInterval``); never sooner than
///   `Cache-Control: max-age` or the feed's `<ttl>` ask (up to ``maxInterval``).
/// - A failed poll, the `n`th in a row: ``minInterval`` doubled `n - 1` times, at most
///   ``maxErrorInterval``; never sooner than a `Retry-After` (up to ``maxErrorInterval``).
public struct PollSchedule: Sendable, Codable, Equatable {
    /// The shortest time between two polls of a feed.
    public var minInterval: Duration = .seconds(5 * 60)
    /// The longest time between two polls of a feed that works.
    public var maxInterval: Duration = .seconds(24 * 3600)
    /// The longest time between two polls of a failing feed.
    public var maxErrorInterval: Duration = .seconds(24 * 3600)

    /// The default schedule: every 5 minutes to every 24 hours.
    public init() {}

    /// The time from a poll to the next, when the feed had `entriesLastWeek` entries published in
    /// the 7 days before its last full fetch, the poll's response asked for `cacheSeconds` of
    /// caching or a `Retry-After` of `retryAfterSeconds`, and the poll was the
    /// `consecutiveErrors`th failure in a row (0: it worked).
    public func interval(
        entriesLastWeek: Int, cacheSeconds: Int? = nil, retryAfterSeconds: Int? = nil, consecutiveErrors: Int = 0
    ) -> Duration {
        if consecutiveErrors > 0 {
            let backoff = min(maxErrorInterval, minInterval * (1 << min(consecutiveErrors - 1, 30)))
            let asked = retryAfterSeconds.map { min(maxErrorInterval, .seconds($0)) } ?? .zero
            return max(backoff, asked)
        }
        let frequency = entriesLastWeek > 0 ? .seconds(7 * 24 * 3600) / entriesLastWeek : maxInterval
        let interval = min(maxInterval, max(minInterval, frequency))
        guard let cacheSeconds else { return interval }
        return max(interval, min(maxInterval, .seconds(cacheSeconds)))
    }
}
