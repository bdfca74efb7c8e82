import Evy
import EvyJobs
import Foundation

/// A crawl run through the job system: the seeds and every link the ``CrawlPolicy`` and the
/// host's robots.txt admit are `crawl.fetch` jobs, submitted through the dispatcher, which is the
/// frontier: each URL's dedup key (`crawl:ID:URL`, on disk in its journal) makes it a job once,
/// and its host's concurrency key (`host:HOST`, with the crawl's per-host limit and the longer of
/// ``spacing`` and the robots.txt Crawl-delay as spacing) keeps every worker on every machine
/// polite together.
///
/// robots.txt is one `crawl.robots` job per host (dedup key `crawl:ID:robots:ORIGIN:DAY`), so it
/// is fetched once for all the workers; the host's links wait in the crawl until it is known.
/// An unreachable robots.txt (the job failed for good) disallows the host for five minutes.
///
/// ```swift
/// let crawl = Crawl(client: client, id: "docs", seeds: ["https://example.org/"], policy: policy)
/// let summary = try await crawl.run { progress in print(progress.done, progress.queued) }
/// ```
/// - Resuming: run the same crawl id again (after any role was killed) and it picks up where it
///   was: recorded pages are not fetched again (their dedup keys name the jobs, whose recorded
///   outcomes come back at once and lead on to the links they had), and jobs that were queued or
///   running go on where they are.
/// - `maxPages` is exact for a run: it submits that many pages at most.
/// Hub-confined.
public final class Crawl: @unchecked Sendable {
    /// How far a crawl is.
    public struct Progress: Sendable {
        /// Pages whose outcome was taken (recorded pages, errors included).
        public var done = 0
        /// Jobs submitted and not finished.
        public var queued = 0
        /// Pages that could not be fetched (no response, refused, failed for good).
        public var errors = 0
        /// Pages done per second since the start.
        public var pagesPerSecond = 0.0
    }

    /// What a finished crawl did.
    public struct Summary: Sendable {
        /// Pages done (each job's outcome taken once).
        public var pages = 0
        /// How many of them had each HTTP status (0: no response, or the job failed for good).
        public var statuses: [Int: Int] = [:]
        /// Pages that could not be fetched.
        public var errors = 0
        /// Links not followed, by reason (``CrawlPolicy/Skip/robots`` for robots.txt's).
        public var skipped: [CrawlPolicy.Skip: Int] = [:]
        /// Wall-clock seconds.
        public var seconds = 0.0
    }

    private let client: JobClient
    /// The crawl's id (in dedup keys and records).
    public let id: String
    /// Where it starts.
    public let seeds: [String]
    /// What it may visit.
    public let policy: CrawlPolicy
    /// Crawl-delay (from robots.txt) or politeness spacing between two fetches of one host.
    public var spacing: Duration = .zero
    /// Fetches of one host at once, across all workers.
    public var perHost = 8
    /// The `User-Agent` product token robots.txt groups are matched with (the fetchers' own).
    public var userAgent = "evy-crawler/1.0"
    /// URLs remembered as submitted in this run (most links are duplicates: these never reach the
    /// dispatcher); the complete seen set is the dispatcher's, on disk.
    public var recentURLs = 200_000

    /// The policy's JSON, in every task.
    private let policyJSON: [UInt8]

    /// A crawl of `seeds` under `policy`, named `id`.
    public init(client: JobClient, id: String, seeds: [String], policy: CrawlPolicy = CrawlPolicy()) {
        self.client = client
        self.id = id
        self.seeds = seeds
        self.policy = policy
        policyJSON = (try? Array(JSONEncoder().encode(policy))) ?? Array("{}".utf8)
    }

    /// Runs the crawl to its end (nothing outstanding), telling `progress` every 200 ms. Throws
    /// the client's errors (no dispatcher, no collector, refused submits).
    public func run(progress: ((Progress) -> Void)? = nil) async throws -> Summary {
        let started = ContinuousClock.now
        // No bound on the set: the crawl both takes outcomes and submits the links they bring, so
        // a bound would have it wait for room only it can make. The frontier is the dispatcher's
        // queue (on disk); here each outstanding job costs its id and a tag.
        let jobs = try JobSet<CrawlJob>(client: client, limit: .max)
        let seedHosts = seeds.compactMap { URL(string: $0)?.host?.lowercased() }
        var summary = Summary()
        var taken = Set<UInt64>()  // job ids whose outcome was used: a cycle of links ends here
        var recent = RecentURLs(capacity: recentURLs)
        var submitted = 0  // pages
        var robots: [String: (rules: RobotsRules, expires: ContinuousClock.Instant)] = [:]
        var waitingForRobots: [String: [(url: String, depth: Int)]] = [:]
        var lastReport = ContinuousClock.now

        /// Submits `url` if its host's robots.txt allows it and the page budget is not spent.
        func submitIfAllowed(_ url: String, depth: Int, origin: String, rules: RobotsRules) async throws {
            let path = url.dropFirst(origin.count)
            guard rules.allows(path.isEmpty ? "/" : String(path)) else {
                summary.skipped[.robots, default: 0] += 1
                return
            }
            guard submitted < policy.maxPages else { return }
            submitted += 1
            try await submit(url, depth: depth, delay: max(spacing, rules.crawlDelay ?? .zero), into: jobs)
        }

        /// `link` is canonical unless it is a seed (a page record's links and redirect are).
        func follow(_ link: String, depth: Int, canonical: Bool = true) async throws {
            guard submitted < policy.maxPages else { return }
            let verdict =
                canonical
                ? policy.admit(canonical: link, depth: depth, seedHosts: seedHosts)
                : policy.admit(link, depth: depth, seedHosts: seedHosts)
            switch verdict {
            case .failure(let skip): summary.skipped[skip, default: 0] += 1
            case .success(let url):
                // Submitted already in this run: its outcome comes (or came) once, with its links.
                guard recent.insert(url) else { return }
                let origin = Self.origin(of: url)
                if let known = robots[origin], known.expires > .now {
                    try await submitIfAllowed(url, depth: depth, origin: origin, rules: known.rules)
                } else if waitingForRobots[origin] != nil {
                    waitingForRobots[origin]!.append((url, depth))
                } else {
                    waitingForRobots[origin] = [(url, depth)]
                    try await askRobots(origin, retrying: robots[origin]?.rules.unreachable == true, into: jobs)
                }
            }
        }

        for seed in seeds { try await follow(seed, depth: 0, canonical: false) }
        while let (job, result) = try await jobs.next() {
            let outcome: JobOutcome
            switch result {
            case .failure(let error): throw error  // a refused submit or a lost collector: the crawl cannot go on
            case .success(let value): outcome = value
            }
            switch job {
            case .robots(let origin):
                let answer =
                    outcome.status == .succeeded
                    ? try? JSONDecoder().decode(RobotsAnswer.self, from: Data(outcome.payload)) : nil
                let rules =
                    answer.map { RobotsRules(status: $0.status, body: Array($0.body.utf8), userAgent: userAgent) }
                    ?? RobotsRules(unreachableFor: userAgent)
                robots[origin] = (rules, .now + rules.keptFor)
                for (url, depth) in waitingForRobots.removeValue(forKey: origin) ?? [] {
                    try await submitIfAllowed(url, depth: depth, origin: origin, rules: rules)
                }
            case .page:
                guard taken.insert(outcome.job).inserted else { continue }  // the same page again
                summary.pages += 1
                guard outcome.status == .succeeded,
                    let record = try? JSONDecoder().decode(PageRecord.self, from: Data(outcome.payload))
                else {
                    summary.errors += 1
                    summary.statuses[0, default: 0] += 1
                    continue
                }
                summary.statuses[record.status, default: 0] += 1
                if record.error != nil { summary.errors += 1 }
                // A redirect is a link of the same depth: the target is the same page.
                if let redirect = record.redirect { try await follow(redirect, depth: record.depth) }
                for link in record.links { try await follow(link, depth: record.depth + 1) }
            }
            if let progress, ContinuousClock.now - lastReport >= .milliseconds(200) {
                lastReport = .now
                progress(report(summary, queued: jobs.count, since: started))
            }
        }
        summary.seconds = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
        progress?(report(summary, queued: 0, since: started))
        return summary
    }

    /// What a job of the crawl is for.
    private enum CrawlJob: Sendable {
        case page
        case robots(origin: String)
    }

    /// `scheme://host[:port]` of a canonical URL.
    static func origin(of url: String) -> String {
        let bytes = url.utf8
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return url }
        let hostStart = bytes.index(colon, offsetBy: 3, limitedBy: bytes.endIndex) ?? bytes.endIndex
        let end = bytes[hostStart...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
        return String(url[..<end])
    }

    /// Submits the robots.txt job of `origin`: once a day per host (its dedup key), or once per
    /// five minutes while it is unreachable.
    private func askRobots(_ origin: String, retrying: Bool, into jobs: JobSet<CrawlJob>) async throws {
        let now = Date().timeIntervalSince1970
        var options = JobOptions()
        options.dedupKey =
            "crawl:\(id):robots:\(origin):" + (retrying ? "\(Int(now / 300))m" : "\(Int(now / 86_400))d")
        options.priority = 255  // before any page: the host's pages wait for it
        options.maxRetries = 3
        try await jobs.submit(
            CrawlFetcher.robotsHandlerName, payload: Array(origin.utf8), options: options, tag: .robots(origin: origin))
    }

    private func submit(_ url: String, depth: Int, delay: Duration, into jobs: JobSet<CrawlJob>) async throws {
        var options = JobOptions()
        options.dedupKey = "crawl:\(id):\(url)"
        options.concurrencyKey = URL(string: url)?.host.map { "host:\($0)" } ?? ""
        options.concurrencyLimit = UInt16(clamping: perHost)
        options.spacingMilliseconds = UInt32(clamping: Int(delay / .milliseconds(1)))
        options.priority = UInt8(clamping: 254 - depth)  // breadth first
        let payload = CrawlTask.json(crawl: id, url: url, depth: depth, policyJSON: policyJSON)
        try await jobs.submit(CrawlFetcher.handlerName, payload: payload, options: options, tag: .page)
    }

    private func report(_ summary: Summary, queued: Int, since started: ContinuousClock.Instant) -> Progress {
        let seconds = max(0.001, Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000)
        return Progress(
            done: summary.pages, queued: queued, errors: summary.errors,
            pagesPerSecond: Double(summary.pages) / seconds)
    }
}
