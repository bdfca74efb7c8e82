import CLibXML2
import Foundation

/// A parsed news feed, in the spirit of Python's feedparser: RSS 0.9x, RSS 1.0, RSS 2.0, Atom 0.3
/// and 1.0, and JSON Feed. Broken feeds are parsed as far as they go; ``bozo`` says something was
/// wrong and ``bozoReason`` what — a feed is never an exception.
///
/// ```swift
/// let feed = Feed(data: try await client.get(url).body)
/// print(feed.title ?? "untitled", feed.entries.count, feed.bozo)
/// ```
public struct Feed: Sendable {
    /// The format detected: `rss090`, `rss091`, `rss092`, `rss20`, `rss10`, `atom03`, `atom10`,
    /// `json1`, `json11`, or `unknown`.
    public var format: String
    /// The feed's title.
    public var title: String?
    /// The feed's web page.
    public var link: String?
    /// The items, in document order.
    public var entries: [FeedEntry]
    /// Whether the feed was malformed (recovered from) or not a feed at all.
    public var bozo: Bool
    /// Why, if ``bozo``.
    public var bozoReason: String?
    /// How long the feed asks to be cached before it is fetched again, in minutes (RSS `<ttl>`).
    public var ttlMinutes: Int?

    /// Parses `data` (any encoding the document declares; broken bytes are recovered from).
    public init(data: [UInt8]) {
        format = "unknown"
        entries = []
        bozo = false
        let firstByte = data.first { ![9, 10, 13, 32, 0xEF, 0xBB, 0xBF].contains($0) }
        if firstByte == UInt8(ascii: "{") {
            parseJSON(data)
        } else {
            parseXML(data)
        }
    }

    /// A date as feeds and HTTP write them: RFC 822 / RFC 1123 (RSS, and HTTP's `Date`,
    /// `Retry-After`, `Last-Modified`), RFC 3339 / ISO 8601 (Atom, JSON Feed) or `yyyy-MM-dd`.
    public static func date(from text: String) -> Date? { FeedDates.parse(text) }

    // MARK: JSON Feed

    private mutating func parseJSON(_ data: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else {
            bozo = true
            bozoReason = "not valid JSON"
            return
        }
        let version = object["version"] as? String ?? ""
        format = version.hasSuffix("1.1") ? "json11" : version.contains("jsonfeed.org") ? "json1" : "unknown"
        if format == "unknown" {
            bozo = true
            bozoReason = "a JSON document without a JSON Feed version"
        }
        title = object["title"] as? String
        link = object["home_page_url"] as? String
        for item in object["items"] as? [[String: Any]] ?? [] {
            entries.append(
                FeedEntry(
                    title: item["title"] as? String,
                    link: (item["url"] as? String) ?? (item["external_url"] as? String),
                    id: (item["id"] as? String) ?? (item["id"] as? NSNumber)?.stringValue,
                    published: (item["date_published"] as? String).flatMap(FeedDates.parse),
                    summary: (item["summary"] as? String) ?? (item["content_text"] as? String)
                        ?? (item["content_html"] as? String)))
        }
    }

    // MARK: XML feeds

    private mutating func parseXML(_ data: [UInt8]) {
        LibXML.ready
        xmlResetLastError()
        let options = Int32(
            XML_PARSE_RECOVER.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
                | XML_PARSE_NONET.rawValue | XML_PARSE_NOCDATA.rawValue)
        let document = data.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                Int32(exactly: chars.count).flatMap { xmlReadMemory(chars.baseAddress, $0, nil, nil, options) }
            }
        }
        if let error = xmlGetLastError(), error.pointee.level.rawValue >= XML_ERR_ERROR.rawValue {
            bozo = true
            bozoReason =
                error.pointee.message.map { String(cString: $0).trimmingCharacters(in: .whitespacesAndNewlines) }
                ?? "malformed XML"
        }
        guard let document, let root = xmlDocGetRootElement(document) else {
            if let document { xmlFreeDoc(document) }
            bozo = true
            bozoReason = bozoReason ?? "no XML document"
            return
        }
        defer { xmlFreeDoc(document) }
        let rootName = name(root)
        switch rootName {
        case "rss":
            let version = attribute(root, "version") ?? ""
            format = version == "2.0" ? "rss20" : version == "0.92" ? "rss092" : version == "0.91" ? "rss091" : "rss20"
            guard let channel = children(root).first(where: { name($0) == "channel" }) else {
                bozo = true
                bozoReason = "an RSS document without a channel"
                return
            }
            readChannel(channel, items: children(channel).filter { name($0) == "item" })
        case "RDF":
            let rss090 = children(root).contains { namespace($0) == "http://my.netscape.com/rdf/simple/0.9/" }
            format = rss090 ? "rss090" : "rss10"
            if let channel = children(root).first(where: { name($0) == "channel" }) {
                readChannel(channel, items: children(root).filter { name($0) == "item" })
            }
        case "feed":
            format = namespace(root) == "http://purl.org/atom/ns#" ? "atom03" : "atom10"
            readAtom(root)
        default:
            bozo = true
            bozoReason = "not a feed: the root element is <\(rootName)>"
        }
    }

    private mutating func readChannel(_ channel: xmlNodePtr, items: [xmlNodePtr]) {
        title = text(of: channel, "title")
        link = text(of: channel, "link")
        ttlMinutes = text(of: channel, "ttl").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
        for item in items {
            let guid = text(of: item, "guid")
            let itemLink = text(of: item, "link") ?? guid.flatMap { $0.hasPrefix("http") ? $0 : nil }
            entries.append(
                FeedEntry(
                    title: text(of: item, "title"),
                    link: itemLink,
                    id: guid ?? attribute(item, "about") ?? itemLink,
                    published: (text(of: item, "pubDate") ?? text(of: item, "date")).flatMap(FeedDates.parse),
                    summary: text(of: item, "description") ?? text(of: item, "encoded")))
        }
    }

    private mutating func readAtom(_ feed: xmlNodePtr) {
        title = text(of: feed, "title")
        link = atomLink(feed)
        for entry in children(feed) where name(entry) == "entry" {
            entries.append(
                FeedEntry(
                    title: text(of: entry, "title"),
                    link: atomLink(entry),
                    id: text(of: entry, "id"),
                    published: (text(of: entry, "published") ?? text(of: entry, "issued") ?? text(of: entry, "updated")
                        ?? text(of: entry, "modified")).flatMap(FeedDates.parse),
                    summary: text(of: entry, "summary") ?? text(of: entry, "content")))
        }
    }

    private func atomLink(_ node: xmlNodePtr) -> String? {
        let links = children(node).filter { name($0) == "link" }
        let alternate = links.first { (attribute($0, "rel") ?? "alternate") == "alternate" } ?? links.first
        return alternate.flatMap { attribute($0, "href") }
    }
}

/// One item of a ``Feed``.
public struct FeedEntry: Sendable, Equatable {
    /// The item's title.
    public var title: String?
    /// The item's web page.
    public var link: String?
    /// Its unique id (`guid`, `id`, `rdf:about`), falling back to the link.
    public var id: String?
    /// When it was published (or updated, if that is all the feed says).
    public var published: Date?
    /// Its summary or content.
    public var summary: String?

    /// An entry from known values.
    public init(
        title: String? = nil, link: String? = nil, id: String? = nil, published: Date? = nil, summary: String? = nil
    ) {
        self.title = title
        self.link = link
        self.id = id
        self.published = published
        self.summary = summary
    }
}

/// The text of a C string without surrounding whitespace, nil if nothing is left. ASCII
/// whitespace is cut on the bytes (Foundation's `trimmingCharacters` was the parser's hot spot);
/// text that starts or ends with other Unicode whitespace still goes through Foundation.
func trimmedText(_ content: UnsafePointer<xmlChar>) -> String? {
    let bytes = UnsafeBufferPointer(
        start: content, count: strlen(UnsafeRawPointer(content).assumingMemoryBound(to: CChar.self)))
    let isSpace = { (byte: UInt8) in byte == 32 || (9...13).contains(byte) }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
    else {
        return nil
    }
    let value = String(decoding: bytes[first...last], as: UTF8.self)
    guard bytes[first] >= 0x80 || bytes[last] >= 0x80 else { return value }
    let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
    return trimmed.isEmpty ? nil : trimmed
}

/// Feed dates: RFC 3339 / ISO 8601 (Atom, Dublin Core, JSON Feed), RFC 822 (RSS) and plain
/// `yyyy-MM-dd`. RFC 822 is read by hand, as feedparser does: Foundation's `DateFormatter` leaks
/// memory on every call on Linux (found by scripts/fuzz), which a long-running scraper cannot afford.
enum FeedDates {
    private static let iso = Date.ISO8601FormatStyle()
    private static let isoFractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let zones: [String: Int] = [
        "gmt": 0, "ut": 0, "utc": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6,
        "pst": -8, "pdt": -7,
    ]

    static func parse(_ text: String) -> Date? {
        let padded = text.first?.isWhitespace == true || text.last?.isWhitespace == true
        let trimmed = padded ? text.trimmingCharacters(in: .whitespaces) : text
        // `2026-11-30…` is ISO 8601; anything else is tried as RFC 822 first (a failed ISO parse
        // costs as much as a successful one, and RSS dates are RFC 822).
        let head = trimmed.utf8.prefix(5)
        let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        if head.count == 5, head.prefix(4).allSatisfy(isDigit), head.last == UInt8(ascii: "-") {
            if let date = try? iso.parse(trimmed) { return date }
            if let date = try? isoFractional.parse(trimmed) { return date }
            return dayOnly(trimmed)
        }
        if let date = rfc822(trimmed) { return date }
        return (try? iso.parse(trimmed)) ?? (try? isoFractional.parse(trimmed))
    }

    /// `[Wkd,] DD Mon YYYY HH:MM[:SS] [ZONE|+HHMM]`; two-digit years are 19xx/20xx as in RFC 2822.
    private static func rfc822(_ text: String) -> Date? {
        let withoutWeekday = text.split(separator: ",", maxSplits: 1).last.map(String.init) ?? text
        let fields = withoutWeekday.split(whereSeparator: \.isWhitespace).map { $0.lowercased() }
        guard fields.count >= 4, let day = Int(fields[0]),
            let month = months.firstIndex(of: String(fields[1].prefix(3))),
            var year = Int(fields[2])
        else { return nil }
        if fields[2].count == 2 { year += year < 50 ? 2000 : 1900 }
        let clock = fields[3].split(separator: ":").map { Int($0) }
        guard (2...3).contains(clock.count), !clock.contains(nil) else { return nil }
        var offset = 0
        if fields.count > 4 {
            let zone = fields[4]
            if let hours = zones[zone] {
                offset = hours * 3600
            } else if zone.count == 5, let sign = zone.first, "+-".contains(sign), let value = Int(zone.dropFirst()) {
                offset = (sign == "-" ? -1 : 1) * ((value / 100) * 3600 + (value % 100) * 60)
            }
        }
        return utc(year, month + 1, day, clock[0]!, clock[1]!, clock.count == 3 ? clock[2]! : 0, offset: offset)
    }

    private static func dayOnly(_ text: String) -> Date? {
        let parts = text.split(separator: "-").map { Int($0) }
        guard parts.count == 3, text.count == 10, let year = parts[0], let month = parts[1], let day = parts[2] else {
            return nil
        }
        return utc(year, month, day, 0, 0, 0, offset: 0)
    }

    private static func utc(
        _ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int,
        offset: Int
    ) -> Date? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second), (1...9999).contains(year)
        else { return nil }
        var fields = tm()
        fields.tm_year = Int32(year - 1900)
        fields.tm_mon = Int32(month - 1)
        fields.tm_mday = Int32(day)
        fields.tm_hour = Int32(hour)
        fields.tm_min = Int32(minute)
        fields.tm_sec = Int32(second)
        return Date(timeIntervalSince1970: TimeInterval(timegm(&fields) - offset))
    }
}
