import Foundation

/// What the pipeline keeps of one feed between polls (in its ``FeedStateStore``), and how a poll
/// changes it (``apply(_:schedule:now:)``, pure).
public struct FeedState: Sendable, Equatable {
    /// Whether a feed is still polled.
    public enum Status: String, Sendable, Equatable {
        /// Polled on its schedule (failing or not).
        case active
        /// Answered 410 Gone: no longer polled, and reported as such.
        case gone
    }

    /// Sightings of the same permanent redirect, in a row, after which it is adopted.
    public static let redirectSightings = 3
    /// Entry keys kept per feed at most (the newest first); a feed holding more entries than this
    /// in one document keeps all of that document's.
    public static let maxSeenKeys = 2000

    /// The store's row id (names the feed's poll jobs).
    public var id: Int64
    /// The feed's identity: its URL as listed.
    public var feed: String
    /// Where it is fetched now (the listed URL until a permanent redirect is adopted).
    public var url: String
    /// Its title, from the last document.
    public var title: String?
    /// Its web page, from the last document.
    public var homePage: String?
    /// Validators of the last 200.
    public var etag: String?
    /// Validators of the last 200.
    public var lastModified: String?
    /// Polls whose outcome was taken (the next poll's number is one more).
    public var polls = 0
    /// When it is polled next (seconds since 1970).
    public var nextPoll: Double = 0
    /// When it was last polled (seconds since 1970; 0: never).
    public var lastPoll: Double = 0
    /// Failed polls in a row (0: the last one worked).
    public var errors = 0
    /// The last failure, kept until a poll works.
    public var lastError: String?
    /// The last poll's HTTP status (0: none yet, or no response).
    public var lastStatus = 0
    /// Whether it is still polled.
    public var status = Status.active
    /// A permanent redirect seen in the last polls, and how many times in a row.
    public var redirectTarget: String?
    /// A permanent redirect seen in the last polls, and how many times in a row.
    public var redirectSightings = 0
    /// Entries published in the week before the last full fetch (the polling rate).
    public var entriesLastWeek = 0
    /// Keys of the entries recorded (newest first), sent with each poll.
    public var seen: [String] = []
    /// Entries recorded in all.
    public var entries = 0
    /// Why the last document was malformed, if it was.
    public var bozo: String?

    /// A feed listed at `feed`, never polled.
    public init(id: Int64, feed: String, url: String? = nil) {
        self.id = id
        self.feed = feed
        self.url = url ?? feed
    }

    /// The task of its next poll.
    public var task: FeedTask {
        FeedTask(feed: feed, url: url, etag: etag, lastModified: lastModified, seen: seen)
    }

    /// Takes in what poll number ``polls`` + 1 found, at `now`, and schedules the next by `schedule`.
    public mutating func apply(_ poll: FeedPoll, schedule: PollSchedule, now: Date) {
        polls += 1
        lastPoll = now.timeIntervalSince1970
        lastStatus = poll.status
        if let error = poll.error {
            errors += 1
            lastError = error
            if poll.status == 410 {
                status = .gone
                lastError = "410 Gone: no longer polled"
            }
        } else {
            errors = 0
            lastError = nil
            etag = poll.etag
            lastModified = poll.lastModified
            if !poll.notModified {
                title = poll.title ?? title
                homePage = poll.homePage ?? homePage
                entriesLastWeek = poll.entriesLastWeek
                bozo = poll.bozo
                remember(poll.keys)
            }
            entries += poll.newEntries
        }
        follow(poll.permanentRedirect)
        let interval = schedule.interval(
            entriesLastWeek: entriesLastWeek, cacheSeconds: poll.cacheSeconds, retryAfterSeconds: poll.retryAfterSeconds,
            consecutiveErrors: errors)
        nextPoll = lastPoll + Double(interval / .milliseconds(1)) / 1000
    }

    /// The document's keys first, then the older ones it no longer holds, up to the cap.
    private mutating func remember(_ keys: [String]) {
        let current = Set(keys)
        seen = keys + seen.filter { !current.contains($0) }.prefix(max(0, Self.maxSeenKeys - keys.count))
    }

    /// Counts sightings of a permanent redirect; the third in a row moves the feed (a 302, or
    /// a poll without the redirect, starts the count again).
    private mutating func follow(_ target: String?) {
        guard let target, target != url else {
            redirectTarget = nil
            redirectSightings = 0
            return
        }
        redirectSightings = target == redirectTarget ? redirectSightings + 1 : 1
        redirectTarget = target
        if redirectSightings >= Self.redirectSightings {
            url = target
            redirectTarget = nil
            redirectSightings = 0
        }
    }
}
