import Evy
import EvyCrawl
import EvyHTTP
import EvyJobs
import Foundation

/// The worker side of the feed scraper: the `feeds.poll` handler. Each job fetches one feed with
/// a conditional GET (the task's `ETag` and `Last-Modified`), parses it as far as it goes, and
/// returns a ``FeedPoll`` holding only the entries whose keys the task has not seen.
///
/// Redirects are followed (five at most) for this poll only; a chain that starts with 301/308 is
/// reported as ``FeedPoll/permanentRedirect`` so the pipeline can adopt it once it is seen again
/// and again. Nothing a server does is thrown: no answer, error statuses, 410 and documents that
/// are not feeds are the poll's ``FeedPoll/error``, which the pipeline's backoff handles (a job
/// retry would hide a failing feed). Only a payload that is not a task fails the job.
/// Hub-confined, like the worker it serves.
public final class FeedPoller: @unchecked Sendable {
    /// The handler's name.
    public static let handlerName = "feeds.poll"
    /// Redirects followed in one poll at most.
    public static let maxRedirects = 5

    private let client: HTTPClient
    private let clock: @Sendable () -> Date

    /// A poller identifying itself as `userAgent`, giving each feed `timeout` and `maxBytes`,
    /// telling the time (for ``FeedPoll/entriesLastWeek``) by `clock`.
    public init(
        userAgent: String = "evy-feeds/1.0", timeout: Duration = .seconds(30), maxBytes: Int = 10 << 20,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        var configuration = HTTPClient.Configuration()
        configuration.userAgent = userAgent
        configuration.followsRedirects = false
        configuration.readTimeout = timeout
        configuration.totalTimeout = timeout
        configuration.maxBodyBytes = maxBytes
        client = HTTPClient(configuration: configuration)
        self.clock = clock
    }

    /// Registers `feeds.poll` on `worker`.
    public func register(on worker: Worker) {
        worker.handle(Self.handlerName) { [self] job in
            let task: FeedTask
            do {
                task = try JSONDecoder().decode(FeedTask.self, from: Data(job.payload))
            } catch {
                throw JobFailure("not a feed task: \(error)", retryable: false)
            }
            return Array(try JSONEncoder().encode(try await poll(task)))
        }
    }

    /// Polls the feed as `task` says. Throws only `CancellationError`.
    public func poll(_ task: FeedTask) async throws -> FeedPoll {
        var poll = FeedPoll(feed: task.feed, url: task.url)
        let validators = HTTPValidators(etag: task.etag, lastModified: task.lastModified)
        let started = ContinuousClock.now
        var url = task.url
        var permanent = true
        var response: HTTPClientResponse?
        do {
            for hop in 0...Self.maxRedirects {
                let answer = try await client.get(url, ifChanged: validators)
                guard [301, 302, 303, 307, 308].contains(answer.status), let location = answer.header("Location"),
                    let next = URL(string: location, relativeTo: answer.url)?.absoluteURL.absoluteString
                else {
                    response = answer
                    break
                }
                permanent = permanent && (answer.status == 301 || answer.status == 308)
                if permanent { poll.permanentRedirect = next }
                if hop == Self.maxRedirects { poll.error = "more than \(Self.maxRedirects) redirects" }
                url = next
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            poll.error = "\(error)"
        }
        poll.milliseconds = Double((ContinuousClock.now - started) / .microseconds(1)) / 1000
        guard let response else { return poll }
        poll.url = url
        poll.status = response.status
        poll.bytes = response.body.count
        poll.cacheSeconds = Self.maxAge(response.header("Cache-Control"))
        switch response.status {
        case 304:
            poll.notModified = true
            poll.etag = response.header("ETag") ?? task.etag
            poll.lastModified = response.header("Last-Modified") ?? task.lastModified
        case 200..<300:
            read(response, into: &poll, seen: task.seen)
        case 429, 503:
            poll.retryAfterSeconds = response.retryAfter(now: clock()).map { Int(min(($0 / .seconds(1)).rounded(.up), 1e9)) }
            poll.error = "HTTP \(response.status)"
        case 410:
            poll.error = "HTTP 410 Gone"
        default:
            poll.error = "HTTP \(response.status)"
        }
        return poll
    }

    /// Parses a 200's body into `poll`: the new entries, every key, the validators.
    private func read(_ response: HTTPClientResponse, into poll: inout FeedPoll, seen: [String]) {
        let feed = Feed(data: response.body)
        poll.title = feed.title
        poll.homePage = feed.link
        poll.etag = response.header("ETag")
        poll.lastModified = response.header("Last-Modified")
        if let ttl = feed.ttlMinutes { poll.cacheSeconds = max(poll.cacheSeconds ?? 0, min(ttl, 1_000_000) * 60) }
        if feed.bozo { poll.bozo = feed.bozoReason ?? "malformed" }
        if feed.format == "unknown" && feed.entries.isEmpty {
            poll.error = "not a feed" + (feed.bozoReason.map { ": \($0)" } ?? "")
            return
        }
        let weekAgo = clock().addingTimeInterval(-7 * 24 * 3600)
        let recorded = Set(seen)
        var inDocument = Set<String>()
        for entry in feed.entries {
            let key = EntryKey.of(entry)
            guard inDocument.insert(key).inserted else { continue }  // the same entry twice in one document
            if entry.published.map({ $0 >= weekAgo }) == true { poll.entriesLastWeek += 1 }
            poll.keys.append(key)
            guard !recorded.contains(key) else { continue }
            poll.entries.append(
                FeedItem(
                    feed: poll.feed, key: key, id: entry.id, title: entry.title, link: entry.link,
                    published: entry.published.map(Self.iso8601), summary: entry.summary))
        }
    }

    /// `date` as ISO 8601 in UTC, to the second (`2026-11-30T10:00:00Z`); Foundation's formatter
    /// cost the worker more than parsing the feed.
    static func iso8601(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var fields = tm()
        gmtime_r(&seconds, &fields)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(fields.tm_year + 1900)-\(two(fields.tm_mon + 1))-\(two(fields.tm_mday))T"
            + "\(two(fields.tm_hour)):\(two(fields.tm_min)):\(two(fields.tm_sec))Z"
    }

    /// `max-age` of a `Cache-Control` value, in seconds.
    static func maxAge(_ cacheControl: String?) -> Int? {
        guard let cacheControl else { return nil }
        for directive in cacheControl.split(separator: ",") {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0].lowercased() == "max-age", let seconds = Int(parts[1]), seconds >= 0 {
                return min(seconds, 1_000_000_000)
            }
        }
        return nil
    }
}
