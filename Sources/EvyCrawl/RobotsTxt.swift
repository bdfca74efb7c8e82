/// A parsed `robots.txt` (RFC 9309): which paths a crawler may fetch, and how slowly.
///
/// ```swift
/// let robots = RobotsTxt(text: try await client.get("http://site/robots.txt").text)
/// if robots.allows("/private/page", userAgent: "evy-crawler/1.0") { ... }
/// ```
/// The groups whose `User-agent` is the crawler's product token (`evy-crawler` in
/// `evy-crawler/1.0`, compared without case) apply, merged; else the `*` groups, merged. Within
/// them the longest matching `Allow`/`Disallow` rule wins, `Allow` on a tie; `*` matches any
/// run of characters and a trailing `$` anchors the end.
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

    /// Parses the file's text (unknown lines, and rules before any `User-agent`, are ignored).
    public init(text: String) {
        var current: Group?
        var lastWasAgent = false
        let body = text.hasPrefix("\u{FEFF}") ? text.dropFirst() : Substring(text)
        for rawLine in body.split(whereSeparator: \.isNewline) {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            let (field, value) = (parts[0].lowercased(), parts[1])
            if field == "user-agent" {
                if !lastWasAgent, let finished = current { groups.append(finished) }
                if !lastWasAgent { current = Group() }
                current?.agents.append(value == "*" ? "*" : RobotsTxt.productToken(value))
                lastWasAgent = true
                continue
            }
            lastWasAgent = false
            guard current != nil else { continue }
            switch field {
            case "allow", "disallow":
                if !value.isEmpty { current?.rules.append(Rule(allow: field == "allow", pattern: value)) }
            case "crawl-delay":
                // A day at most; nothing for nonsense (negative, inf, nan).
                if let seconds = Double(value), seconds.isFinite, seconds >= 0 {
                    current?.crawlDelay = .milliseconds(Int64(min(seconds, 86_400) * 1000))
                }
            default:
                break
            }
        }
        if let current { groups.append(current) }
    }

    /// The leading letters, `-` and `_` of a user agent, lowercased: `evy-crawler` of
    /// `Evy-Crawler/1.0 (+https://evy.example)`.
    private static func productToken(_ agent: String) -> String {
        String(agent.prefix { $0.isASCII && ($0.isLetter || $0 == "-" || $0 == "_") }).lowercased()
    }

    /// The rules for `userAgent`: its own groups merged, else the `*` groups merged; nil if none.
    private func group(for userAgent: String) -> Group? {
        let token = RobotsTxt.productToken(userAgent)
        var matching = groups.filter { !token.isEmpty && $0.agents.contains(token) }
        if matching.isEmpty { matching = groups.filter { $0.agents.contains("*") } }
        guard !matching.isEmpty else { return nil }
        return Group(
            agents: [], rules: matching.flatMap(\.rules), crawlDelay: matching.lazy.compactMap(\.crawlDelay).first)
    }

    /// Whether `userAgent` may fetch `path` (with its query).
    public func allows(_ path: String, userAgent: String) -> Bool {
        guard let group = group(for: userAgent) else { return true }
        var best: Rule?
        for rule in group.rules where RobotsTxt.matches(rule.pattern, path) {
            if best == nil || rule.pattern.count > best!.pattern.count
                || (rule.pattern.count == best!.pattern.count && rule.allow)
            {
                best = rule
            }
        }
        return best?.allow ?? true
    }

    /// The `Crawl-delay` asked of `userAgent`, if any.
    public func crawlDelay(for userAgent: String) -> Duration? { group(for: userAgent)?.crawlDelay }

    /// Whether `path` starts with `pattern` (`*` matches any run, a trailing `$` the end).
    static func matches(_ pattern: String, _ path: String) -> Bool {
        var pattern = Array(pattern.utf8)
        let anchored = pattern.last == UInt8(ascii: "$")
        if anchored { pattern.removeLast() } else { pattern.append(UInt8(ascii: "*")) }
        let path = Array(path.utf8)
        // Whole-string wildcard matching, backtracking to the last `*` on a mismatch.
        var (p, s) = (0, 0)
        var star: (pattern: Int, path: Int)?
        while s < path.count {
            if p < pattern.count && pattern[p] == UInt8(ascii: "*") {
                star = (p, s)
                p += 1
            } else if p < pattern.count && pattern[p] == path[s] {
                p += 1
                s += 1
            } else if let last = star {
                p = last.pattern + 1
                s = last.path + 1
                star = (last.pattern, last.path + 1)
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }
}
