import EvyCrawl
import Foundation

/// What a crawl may visit and keep: decisions on URLs and responses only, no I/O, the same on
/// every worker (each job carries its crawl's policy). Scrapy users will recognise `allowed_domains`
/// (``Scope``), `DEPTH_LIMIT`, `CLOSESPIDER_PAGECOUNT` (``maxPages``) and `DOWNLOAD_MAXSIZE`.
public struct CrawlPolicy: Sendable, Codable, Equatable {
    /// Which hosts a crawl stays on.
    public enum Scope: Sendable, Codable, Equatable {
        /// The seeds' hosts and their subdomains (`www.` ignored): the default.
        case sameSite
        /// These hosts and their subdomains, whatever the seeds.
        case hosts([String])
    }

    /// Where the crawl may go.
    public var scope: Scope = .sameSite
    /// Links followed from a seed (depth 0) at most this many times.
    public var maxDepth = 10
    /// Pages recorded at most.
    public var maxPages = 100_000
    /// A body over this many bytes is cut off and the page recorded as too large.
    public var maxPageBytes = 5 << 20
    /// Longer URLs are skipped (a common trap: ever-growing query strings).
    public var maxURLLength = 2048
    /// A URL whose path repeats one segment this many times or more is skipped (`/a/b/a/b/a/b/`,
    /// calendars and relative-link loops).
    public var maxRepeatedSegment = 3
    /// Media types whose bodies are parsed for links (others are recorded, not parsed).
    public var parsedTypes = ["text/html", "application/xhtml+xml"]

    /// The default policy: same site, depth 10, 100,000 pages, 5 MB a page.
    public init() {}

    /// Why a URL is not followed.
    public enum Skip: String, Error, Sendable, Equatable, CaseIterable {
        /// Not http(s), or no host (`mailto:`, `javascript:`).
        case scheme
        /// Outside the scope.
        case offSite
        /// One link further than ``CrawlPolicy/maxDepth``.
        case tooDeep
        /// Over ``CrawlPolicy/maxURLLength``.
        case tooLong
        /// A path segment repeated ``CrawlPolicy/maxRepeatedSegment`` times.
        case repeatedSegment
        /// Disallowed by the host's robots.txt (or robots.txt unreachable).
        case robots
    }

    /// The canonical spelling of `link` (resolved against nothing: it must be absolute) if a page at
    /// `depth` may follow it in a crawl seeded on `seedHosts`, else why not.
    public func admit(_ link: String, depth: Int, seedHosts: [String]) -> Result<String, Skip> {
        guard let url = URL(string: link), let normalized = HTMLPage.normalizedURL(url) else {
            return .failure(.scheme)
        }
        return admit(canonical: normalized, depth: depth, seedHosts: seedHosts)
    }

    /// ``admit(_:depth:seedHosts:)`` for a URL already in its canonical spelling (as
    /// ``HTMLPage`` gives links, and ``PageRecord`` keeps them): no parsing beyond finding the
    /// host and the path, the hot path of a crawl (every link of every page).
    public func admit(canonical url: String, depth: Int, seedHosts: [String]) -> Result<String, Skip> {
        let bytes = url.utf8
        let afterScheme: String.Index
        if url.hasPrefix("http://") {
            afterScheme = bytes.index(bytes.startIndex, offsetBy: 7)
        } else if url.hasPrefix("https://") {
            afterScheme = bytes.index(bytes.startIndex, offsetBy: 8)
        } else {
            return .failure(.scheme)
        }
        let pathStart = bytes[afterScheme...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
        let authority = url[afterScheme..<pathStart]
        // An IPv6 literal (`[::1]:8080`) is left to Foundation; other hosts end at the port's colon.
        let host =
            authority.hasPrefix("[")
            ? (URL(string: url)?.host ?? "")
            : (authority.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "")
        guard !host.isEmpty else { return .failure(.scheme) }
        guard inScope(host, seedHosts: seedHosts) else { return .failure(.offSite) }
        guard depth <= maxDepth else { return .failure(.tooDeep) }
        guard bytes.count <= maxURLLength else { return .failure(.tooLong) }
        let pathEnd = bytes[pathStart...].firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        guard !repeatsASegment(url[pathStart..<pathEnd]) else { return .failure(.repeatedSegment) }
        return .success(url)
    }

    /// Whether a response of `contentType` (a `Content-Type` value) is parsed for links.
    public func parses(contentType: String?) -> Bool {
        guard let contentType else { return false }
        let mediaType = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        return parsedTypes.contains { $0 == mediaType }
    }

    private func inScope(_ host: String, seedHosts: [String]) -> Bool {
        let roots: [String]
        switch scope {
        case .sameSite: roots = seedHosts
        case .hosts(let hosts): roots = hosts
        }
        let bare = Self.withoutWWW(host)
        return roots.contains { root in
            let root = Self.withoutWWW(root.lowercased())
            return bare == root || bare.hasSuffix("." + root)
        }
    }

    private func repeatsASegment(_ path: Substring) -> Bool {
        var counts: [Substring: Int] = [:]
        for segment in path.split(separator: "/") {
            counts[segment, default: 0] += 1
            if counts[segment]! >= maxRepeatedSegment { return true }
        }
        return false
    }

    private static func withoutWWW(_ host: String) -> String {
        host.hasPrefix("www.") ? String(host.dropFirst(4)) : host
    }
}
