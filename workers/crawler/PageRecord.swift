import EvyJobs

/// One crawl job's input: which page of which crawl, how deep, under which policy. Travels as
/// JSON in the job's payload.
public struct CrawlTask: Codable, Sendable, Equatable {
    /// The crawl's id (its results and dedup keys carry it).
    public var crawl: String
    /// The page, in its canonical spelling.
    public var url: String
    /// Links followed from a seed to reach it (a seed is 0).
    public var depth: Int
    /// The crawl's policy (the fetch reads its page size limit and parsed types).
    public var policy: CrawlPolicy

    /// The JSON of a task, built around `policyJSON` (the policy's own JSON, encoded once per
    /// crawl): what the crawl sends for each page, without a JSONEncoder pass over the policy.
    static func json(crawl: String, url: String, depth: Int, policyJSON: [UInt8]) -> [UInt8] {
        var bytes = Array("{\"crawl\":".utf8)
        appendJSONString(crawl, to: &bytes)
        bytes += Array(",\"url\":".utf8)
        appendJSONString(url, to: &bytes)
        bytes += Array(",\"depth\":\(depth),\"policy\":".utf8)
        bytes += policyJSON
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// A task for `url` at `depth` in crawl `crawl`.
    public init(crawl: String, url: String, depth: Int, policy: CrawlPolicy) {
        self.crawl = crawl
        self.url = url
        self.depth = depth
        self.policy = policy
    }
}

/// What a crawl records of one page: the job's result, as JSON.
public struct PageRecord: Codable, Sendable, Equatable {
    /// The crawl's id.
    public var crawl: String
    /// The page as requested.
    public var url: String
    /// Links followed to reach it.
    public var depth: Int
    /// The HTTP status, 0 when there was no response (refused by robots.txt, a timeout).
    public var status: Int
    /// The `<title>`, if the page was parsed and had one.
    public var title: String?
    /// The page's links, absolute and canonical, each once, in page order (before the policy).
    public var links: [String] = []
    /// Where a 3xx pointed (canonical), followed as a link of its own.
    public var redirect: String?
    /// The body's size in bytes.
    public var bytes = 0
    /// The `Content-Type`.
    public var contentType: String?
    /// From the request to the whole body, in milliseconds.
    public var milliseconds = 0.0
    /// Why there is no page (robots.txt, too large, unreachable), if there is none.
    public var error: String?

    /// A record of `url` with only its status so far.
    public init(crawl: String, url: String, depth: Int, status: Int) {
        self.crawl = crawl
        self.url = url
        self.depth = depth
        self.status = status
    }
}
