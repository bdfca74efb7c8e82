import Evy

/// A parsed `robots.txt`: which paths a crawler may fetch, and how slowly.
///
/// ```swift
/// let robots = RobotsTxt(text: try await client.get("http://site/robots.txt").text)
/// if robots.allows("/private/page", userAgent: "evy-crawler") { ... }
/// ```
/// The group for the most specific matching `User-agent` applies (else `*`); within it the longest
/// matching `Allow`/`Disallow` rule wins, `Allow` on a tie; `*` and a trailing `$` are understood.
public struct RobotsTxt: Sendable {
    private struct Rule: Sendable {
        let allow: Bool
        let pattern: String
    }

    private struct Group: Sendable {
        var agents: [String] = []
        var rules: [Rule] = []
        var crawlDelay: Duration?
    }

    private var groups: [Group] = []

    /// Parses the file's text (unknown lines are ignored).
    public init(text: String) {
        var current = Group()
        var lastWasAgent = false
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            let (field, value) = (parts[0].lowercased(), parts[1])
            switch field {
            case "user-agent":
                if !lastWasAgent && !current.agents.isEmpty {
                    groups.append(current)
                    current = Group()
                }
                current.agents.append(value.lowercased())
                lastWasAgent = true
                continue
            case "allow", "disallow":
                if !value.isEmpty || field == "allow" { current.rules.append(Rule(allow: field == "allow", pattern: value)) }
            case "crawl-delay":
                if let seconds = Double(value) { current.crawlDelay = .milliseconds(Int64(seconds * 1000)) }
            default:
                break
            }
            lastWasAgent = false
        }
        if !current.agents.isEmpty { groups.append(current) }
    }

    private func group(for userAgent: String) -> Group? {
        let agent = userAgent.lowercased()
        let specific = groups.filter { group in group.agents.contains { $0 != "*" && agent.contains($0) } }
            .max { a, b in (a.agents.map(\.count).max() ?? 0) < (b.agents.map(\.count).max() ?? 0) }
        return specific ?? groups.first { $0.agents.contains("*") }
    }

    /// Whether `userAgent` may fetch `path` (with its query).
    public func allows(_ path: String, userAgent: String) -> Bool {
        guard let group = group(for: userAgent) else { return true }
        var best: Rule?
        for rule in group.rules where RobotsTxt.matches(rule.pattern, path) {
            if best == nil || rule.pattern.count > best!.pattern.count || (rule.pattern.count == best!.pattern.count && rule.allow) {
                best = rule
            }
        }
        return best?.allow ?? true
    }

    /// The `Crawl-delay` asked of `userAgent`, if any.
    public func crawlDelay(for userAgent: String) -> Duration? { group(for: userAgent)?.crawlDelay }

    static func matches(_ pattern: String, _ path: String) -> Bool {
        var pattern = Substring(pattern)
        let anchored = pattern.hasSuffix("$")
        if anchored { pattern = pattern.dropLast() }
        let pieces = pattern.split(separator: "*", omittingEmptySubsequences: false)
        var rest = Substring(path)
        for (index, piece) in pieces.enumerated() {
            if index == 0 {
                guard rest.hasPrefix(piece) else { return false }
                rest = rest.dropFirst(piece.count)
            } else if let range = rest.range(of: piece) {
                rest = rest[range.upperBound...]
            } else {
                return false
            }
        }
        return !anchored || rest.isEmpty || (pieces.last?.isEmpty ?? false)
    }
}

/// Keeps a crawler polite: at most `concurrency` requests at once to one host, and at least
/// `delay` between the starts of two requests to it. Hub-confined.
///
/// ```swift
/// let polite = HostPoliteness(delay: .milliseconds(500))
/// let page = try await polite.visit(host) { try await client.get(url) }
/// ```
public final class HostPoliteness: @unchecked Sendable {
    private final class HostState {
        let slots: Evy.Semaphore
        var nextStart: ContinuousClock.Instant = .now
        init(concurrency: Int) { slots = Evy.Semaphore(concurrency) }
    }

    /// The pause between two requests to one host.
    public let delay: Duration
    /// Requests at once to one host.
    public let concurrency: Int
    private var hosts: [String: HostState] = [:]

    /// Politeness of `delay` between requests, `concurrency` at once, per host.
    public init(delay: Duration, concurrency: Int = 1) {
        self.delay = delay
        self.concurrency = concurrency
    }

    /// Runs `body` when `host` may be visited again.
    public func visit<T>(_ host: String, _ body: () async throws -> T) async throws -> T {
        let state = hosts[host.lowercased()] ?? HostState(concurrency: concurrency)
        hosts[host.lowercased()] = state
        try await state.slots.acquire()
        defer { state.slots.release() }
        let wait = ContinuousClock.now.duration(to: state.nextStart)
        if wait > .zero { try await sleep(for: wait) }
        state.nextStart = ContinuousClock.now.advanced(by: delay)
        return try await body()
    }
}
