import EvyCrawl
import Foundation

/// What a host's robots.txt says for one crawler, from how it was answered (RFC 9309):
///
/// - 2xx: the file's rules, kept for ``lifetime`` (the RFC's 24 hours at most);
/// - 4xx (403 and 404 included): "unavailable", everything allowed;
/// - 5xx, or no answer (``init(unreachableFor:)``): "unreachable", everything disallowed, kept
///   for ``unreachableLifetime``, then asked again;
/// - `Crawl-delay` honoured up to ``maxCrawlDelay``.
///
/// A value, pure. The crawl (the frontier) holds one per host and applies it before a URL becomes
/// a job, so robots.txt is fetched once per host for all the workers, and the Crawl-delay is the
/// spacing of the host's concurrency key at the dispatcher.
public struct RobotsRules: Sendable {
    /// How long a fetched file is kept.
    public static let lifetime = Duration.seconds(24 * 3600)
    /// How long an unreachable host stays disallowed before it is asked again.
    public static let unreachableLifetime = Duration.seconds(300)
    /// The longest `Crawl-delay` honoured.
    public static let maxCrawlDelay = Duration.seconds(10)

    private let robots: RobotsTxt?
    private let userAgent: String
    /// Whether everything is disallowed (the file was unreachable).
    public let unreachable: Bool
    /// The pause between two requests the file asks for, capped.
    public let crawlDelay: Duration?

    /// The rules of a robots.txt answered with HTTP `status` and `body`, for `userAgent`.
    public init(status: Int, body: [UInt8], userAgent: String) {
        self.userAgent = userAgent
        switch status {
        case 200..<300:
            let robots = RobotsTxt(text: String(decoding: body, as: UTF8.self))
            self.robots = robots
            unreachable = false
            crawlDelay = robots.crawlDelay(for: userAgent).map { min($0, Self.maxCrawlDelay) }
        case 400..<500:
            robots = nil
            unreachable = false
            crawlDelay = nil
        default:
            robots = nil
            unreachable = true
            crawlDelay = nil
        }
    }

    /// The rules of a host whose robots.txt could not be fetched: everything disallowed.
    public init(unreachableFor userAgent: String) {
        self.init(status: 503, body: [], userAgent: userAgent)
    }

    /// How long these rules are kept.
    public var keptFor: Duration { unreachable ? Self.unreachableLifetime : Self.lifetime }

    /// Whether `path` (with its query) may be fetched.
    public func allows(_ path: String) -> Bool {
        if unreachable { return false }
        return robots?.allows(path, userAgent: userAgent) ?? true
    }
}

/// A `crawl.robots` job's result: how the host answered for its robots.txt.
public struct RobotsAnswer: Codable, Sendable, Equatable {
    /// The final HTTP status (after at most five redirects).
    public var status: Int
    /// The file, at most 500 KiB of it (RFC 9309's minimum to parse), as text.
    public var body: String
}
