import EvyJobs
import Foundation

/// One poll's input: which feed, where to fetch it now, and what the last polls left behind (the
/// validators of a conditional GET and the keys of the entries recorded already). Travels as JSON
/// in a `feeds.poll` job's payload.
public struct FeedTask: Codable, Sendable, Equatable {
    /// The feed's identity: its URL as it was listed (results carry it, whatever it moved to).
    public var feed: String
    /// Where to fetch it: the listed URL, or where a repeated 301 moved it.
    public var url: String
    /// The `ETag` of the last 200, sent as `If-None-Match`.
    public var etag: String?
    /// The `Last-Modified` of the last 200, sent as `If-Modified-Since`.
    public var lastModified: String?
    /// The keys (``EntryKey``) of the entries recorded already: those are not recorded again.
    public var seen: [String] {
        get { EntryKey.list(seenList) }
        set { seenList = newValue.joined(separator: " ") }
    }
    /// ``seen`` as it travels: one string, the keys separated by spaces (a JSON array of short
    /// strings costs a JSON coder many times more).
    private var seenList: String

    private enum CodingKeys: String, CodingKey {
        case feed, url, etag, lastModified
        case seenList = "seen"
    }

    /// The task's JSON, as its `Codable` conformance writes it, without a `JSONEncoder` pass (the
    /// scraper writes one per poll).
    public var json: [UInt8] {
        var bytes = Array("{\"feed\":".utf8)
        appendJSONString(feed, to: &bytes)
        bytes += Array(",\"url\":".utf8)
        appendJSONString(url, to: &bytes)
        if let etag {
            bytes += Array(",\"etag\":".utf8)
            appendJSONString(etag, to: &bytes)
        }
        if let lastModified {
            bytes += Array(",\"lastModified\":".utf8)
            appendJSONString(lastModified, to: &bytes)
        }
        bytes += Array(",\"seen\":".utf8)
        appendJSONString(seenList, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// A task for `feed`, fetched at `url` (the listed URL by default).
    public init(feed: String, url: String? = nil, etag: String? = nil, lastModified: String? = nil, seen: [String] = [])
    {
        self.feed = feed
        self.url = url ?? feed
        self.etag = etag
        self.lastModified = lastModified
        seenList = seen.joined(separator: " ")
    }
}

/// One entry as the collector records it.
public struct FeedItem: Codable, Sendable, Equatable {
    /// The feed's identity (its listed URL).
    public var feed: String
    /// The entry's dedup key within its feed (``EntryKey``).
    public var key: String
    /// The entry's id (`guid`, `id`), if it has one.
    public var id: String?
    /// Its title.
    public var title: String?
    /// Its web page.
    public var link: String?
    /// When it was published, ISO 8601, if the feed says.
    public var published: String?
    /// Its summary or content.
    public var summary: String?

    /// An entry from known values.
    public init(
        feed: String, key: String, id: String? = nil, title: String? = nil, link: String? = nil,
        published: String? = nil, summary: String? = nil
    ) {
        self.feed = feed
        self.key = key
        self.id = id
        self.title = title
        self.link = link
        self.published = published
        self.summary = summary
    }
}

/// What one poll found: the job's result, as JSON. ``entries`` holds only the entries not seen
/// before, so a poll's record is the feed's news.
public struct FeedPoll: Codable, Sendable, Equatable {
    /// The feed's identity (its listed URL).
    public var feed: String
    /// Where it was fetched.
    public var url: String
    /// The final HTTP status, 0 when there was no response.
    public var status = 0
    /// Whether the server answered 304 Not Modified (nothing parsed, nothing new).
    public var notModified = false
    /// The feed's title.
    public var title: String?
    /// The feed's web page.
    public var homePage: String?
    /// The validators to send next time.
    public var etag: String?
    /// The validators to send next time.
    public var lastModified: String?
    /// The new entries, in document order.
    public var entries: [FeedItem] = [] {
        didSet { newEntries = entries.count }
    }
    /// How many ``entries`` there are: a reader that does not need the entries themselves (the
    /// scraper) decodes this and skips them.
    public internal(set) var newEntries = 0
    /// The keys of every entry in the document (new or not): the next seen set starts with them.
    public var keys: [String] {
        get { EntryKey.list(keyList) }
        set { keyList = newValue.joined(separator: " ") }
    }
    /// ``keys`` as they travel: one string, separated by spaces.
    private var keyList = ""
    /// Entries in the document published in the 7 days before the poll (adaptive polling).
    public var entriesLastWeek = 0
    /// Where every hop of a 301/308 chain led, if the fetch began with permanent redirects.
    public var permanentRedirect: String?
    /// What the server asked for before the next request, in seconds: `Retry-After` (429, 503),
    /// else `Cache-Control: max-age` or the feed's `<ttl>`.
    public var retryAfterSeconds: Int?
    /// How long the server or the feed asks to be cached, in seconds (`max-age`, RSS `<ttl>`).
    public var cacheSeconds: Int?
    /// Whether the document was malformed (parsed as far as it went) and why.
    public var bozo: String?
    /// Why the poll failed (no response, an error status, not a feed), if it did.
    public var error: String?
    /// The body's size in bytes.
    public var bytes = 0
    /// From the request to the whole body, in milliseconds.
    public var milliseconds = 0.0

    private enum CodingKeys: String, CodingKey {
        case feed, url, status, notModified, title, homePage, etag, lastModified, entries, newEntries, entriesLastWeek
        case permanentRedirect, retryAfterSeconds, cacheSeconds, bozo, error, bytes, milliseconds
        case keyList = "keys"
    }

    /// A poll of `feed` at `url` with nothing found yet.
    public init(feed: String, url: String) {
        self.feed = feed
        self.url = url
    }
}

/// What the scraper reads of a ``FeedPoll``: everything but the entries, which only the collector
/// keeps (decoding them again cost the scraper most of its time).
struct FeedPollHeader: Decodable {
    var poll: FeedPoll

    private enum CodingKeys: String, CodingKey {
        case feed, url, status, notModified, title, homePage, etag, lastModified, newEntries, entriesLastWeek
        case permanentRedirect, retryAfterSeconds, cacheSeconds, bozo, error, keys
    }

    init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        poll = FeedPoll(feed: try values.decode(String.self, forKey: .feed), url: try values.decode(String.self, forKey: .url))
        poll.status = try values.decode(Int.self, forKey: .status)
        poll.notModified = try values.decode(Bool.self, forKey: .notModified)
        poll.title = try values.decodeIfPresent(String.self, forKey: .title)
        poll.homePage = try values.decodeIfPresent(String.self, forKey: .homePage)
        poll.etag = try values.decodeIfPresent(String.self, forKey: .etag)
        poll.lastModified = try values.decodeIfPresent(String.self, forKey: .lastModified)
        poll.newEntries = try values.decode(Int.self, forKey: .newEntries)
        poll.entriesLastWeek = try values.decode(Int.self, forKey: .entriesLastWeek)
        poll.permanentRedirect = try values.decodeIfPresent(String.self, forKey: .permanentRedirect)
        poll.retryAfterSeconds = try values.decodeIfPresent(Int.self, forKey: .retryAfterSeconds)
        poll.cacheSeconds = try values.decodeIfPresent(Int.self, forKey: .cacheSeconds)
        poll.bozo = try values.decodeIfPresent(String.self, forKey: .bozo)
        poll.error = try values.decodeIfPresent(String.self, forKey: .error)
        poll.keys = EntryKey.list(try values.decode(String.self, forKey: .keys))
    }
}
