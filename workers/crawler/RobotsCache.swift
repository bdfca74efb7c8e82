import Evy
import EvyCrawl
import Foundation

/// The robots.txt of each host a worker crawls, fetched once and kept (RFC 9309):
///
/// - 2xx: the file's rules, kept for ``lifetime`` (the RFC's 24 hours at most);
/// - 4xx (403 and 404 included): "unavailable", everything allowed;
/// - 5xx, or no answer: "unreachable", everything disallowed until ``retryAfterFailure`` has
///   passed, then asked again;
/// - `Crawl-delay` honoured up to ``maxCrawlDelay``.
///
/// Concurrent questions about one host wait for the one fetch in progress. Hub-confined.
public final class RobotsCache: @unchecked Sendable {
    /// What a host's robots.txt says for this crawler.
    public struct Rules: Sendable {
        /// The parsed file, or nil when it was unavailable (everything allowed).
        let robots: RobotsTxt?
        /// Whether everything is disallowed (the file was unreachable).
        public let unreachable: Bool
        /// The pause between two requests the file asks for, capped.
        public let crawlDelay: Duration?
        let userAgent: String

        /// Whether `path` (with its query) may be fetched.
        public func allows(_ path: String) -> Bool {
            if unreachable { return false }
            return robots?.allows(path, userAgent: userAgent) ?? true
        }
    }

    /// How a robots.txt is fetched: its status and body, or a thrown error for no answer.
    public typealias Fetch = @Sendable (URL) async throws -> (status: Int, body: [UInt8])

    private struct Entry {
        let rules: Rules
        let expires: ContinuousClock.Instant
    }

    /// The crawler's user agent (its product token selects the groups that apply).
    public let userAgent: String
    /// How long a fetched file is kept.
    public let lifetime: Duration
    /// How long an unreachable host stays disallowed before it is asked again.
    public let retryAfterFailure: Duration
    /// The longest `Crawl-delay` honoured.
    public let maxCrawlDelay: Duration
    private let fetch: Fetch
    private let clock: @Sendable () -> ContinuousClock.Instant
    private var entries: [String: Entry] = [:]
    private var inFlight: [String: Event<Rules>] = [:]
    /// Files fetched so far (tests and statistics).
    public private(set) var fetches = 0

    /// A cache fetching with `fetch`, telling the time by `clock` (tests pass their own).
    public init(
        userAgent: String, lifetime: Duration = .seconds(24 * 3600), retryAfterFailure: Duration = .seconds(300),
        maxCrawlDelay: Duration = .seconds(10), clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        fetch: @escaping Fetch
    ) {
        self.clock = clock
        self.userAgent = userAgent
        self.lifetime = lifetime
        self.retryAfterFailure = retryAfterFailure
        self.maxCrawlDelay = maxCrawlDelay
        self.fetch = fetch
    }

    /// The rules for `origin` (`scheme://host[:port]`), fetched if not known or expired. Throws
    /// `CancellationError` if the green thread is killed while it waits (nothing is cached then,
    /// and the others waiting for that fetch throw it too).
    public func rules(for origin: String) async throws -> Rules {
        if let entry = entries[origin], entry.expires > clock() { return entry.rules }
        if let pending = inFlight[origin] { return try await pending.wait() }
        let pending = Event<Rules>()
        inFlight[origin] = pending
        defer { inFlight[origin] = nil }
        do {
            let (rules, keep) = try await load(origin)
            entries[origin] = Entry(rules: rules, expires: clock() + keep)
            try? pending.send(rules)
            return rules
        } catch {
            try? pending.send(error: error)
            throw error
        }
    }

    private func load(_ origin: String) async throws -> (Rules, Duration) {
        fetches += 1
        var answer: (status: Int, body: [UInt8])?
        if let url = URL(string: origin + "/robots.txt") {
            do {
                answer = try await fetch(url)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                answer = nil  // no answer: unreachable
            }
        }
        guard let (status, body) = answer else {
            return (Rules(robots: nil, unreachable: true, crawlDelay: nil, userAgent: userAgent), retryAfterFailure)
        }
        switch status {
        case 200..<300:
            let robots = RobotsTxt(text: String(decoding: body, as: UTF8.self))
            let delay = robots.crawlDelay(for: userAgent).map { min($0, maxCrawlDelay) }
            return (Rules(robots: robots, unreachable: false, crawlDelay: delay, userAgent: userAgent), lifetime)
        case 400..<500:
            return (Rules(robots: nil, unreachable: false, crawlDelay: nil, userAgent: userAgent), lifetime)
        default:
            return (Rules(robots: nil, unreachable: true, crawlDelay: nil, userAgent: userAgent), retryAfterFailure)
        }
    }
}

