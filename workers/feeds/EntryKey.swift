import EvyCrawl

/// The dedup key of a feed entry, as Miniflux and feedparser users expect: its id if it has one,
/// else its link, else a hash of its content (title, summary, date). Sixteen hex digits of a
/// 64-bit FNV-1a hash over the kind and the value, so a seen set stays small whatever the ids.
/// Keys are compared within one feed only.
public enum EntryKey {
    /// The key of `entry`.
    public static func of(_ entry: FeedEntry) -> String {
        if let id = entry.id, !id.isEmpty { return hash("id\u{0}" + id) }
        if let link = entry.link, !link.isEmpty { return hash("link\u{0}" + link) }
        let published = entry.published.map { "\($0.timeIntervalSince1970)" } ?? ""
        return hash("content\u{0}\(entry.title ?? "")\u{0}\(entry.summary ?? "")\u{0}\(published)")
    }

    /// The keys of a space-separated list (how ``FeedTask`` and ``FeedPoll`` carry them).
    static func list(_ text: String) -> [String] {
        text.utf8.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x100_0000_01b3
        }
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
