import Evy
import EvyCrawl
import EvyHTTP
import EvyJobs
import Foundation

/// The worker side of a crawl: the `crawl.fetch` handler, which fetches one page and, if it is
/// HTML, parses it for links, returning its ``PageRecord``, and the `crawl.robots` handler, which
/// fetches one host's robots.txt for the crawl (``RobotsAnswer``). It follows nothing itself:
/// redirects and links go back to the crawl, which applies the host's ``RobotsRules`` and sends
/// what they allow through the dispatcher (the frontier: dedup and per-host politeness for every
/// worker at once).
///
/// Failures: a connection error, a timeout or a 5xx, 429 or 503 is a retryable ``JobFailure``
/// (the dispatcher's retries with backoff, and not before a 429's or 503's `Retry-After`, up to
/// ``maxRetryAfter``); 4xx and pages over the size limit are recorded as they are. A host that failed ``backoffAfter`` times in a row, or asked for a `Retry-After`, is backed
/// off: its next fetches from this worker wait (1 s doubling to ``maxHostBackoff``, or the
/// `Retry-After`), holding only the host's concurrency slots. Hub-confined, like the worker it serves.
public final class CrawlFetcher: @unchecked Sendable {
    /// The page handler's name.
    public static let handlerName = "crawl.fetch"
    /// The robots.txt handler's name.
    public static let robotsHandlerName = "crawl.robots"

    /// The crawler's `User-Agent` (its product token selects robots.txt groups).
    public let userAgent: String
    private let timeout: Duration
    private var clients: [Int: HTTPClient] = [:]
    private let robotsClient: HTTPClient
    /// Failures in a row per origin, and until when it is backed off.
    private var hostFailures: [String: (count: Int, until: ContinuousClock.Instant)] = [:]
    /// The longest `Retry-After` honoured.
    public static let maxRetryAfter = Duration.seconds(3600)
    /// Failures of one host in a row after which it is backed off.
    public static let backoffAfter = 3
    /// The longest backoff of a failing host.
    public static let maxHostBackoff = Duration.seconds(60)

    /// A fetcher identifying itself as `userAgent`, giving each page `timeout`.
    public init(userAgent: String = "evy-crawler/1.0", timeout: Duration = .seconds(30)) {
        self.userAgent = userAgent
        self.timeout = timeout
        var configuration = HTTPClient.Configuration()
        configuration.userAgent = userAgent
        configuration.maxRedirects = 5  // RFC 9309: follow at least five for robots.txt
        configuration.readTimeout = timeout
        configuration.totalTimeout = timeout
        configuration.maxBodyBytes = 500 * 1024  // RFC 9309: at least 500 KiB are parsed
        robotsClient = HTTPClient(configuration: configuration)
    }

    /// Registers `crawl.fetch` and `crawl.robots` on `worker`.
    public func register(on worker: Worker) {
        worker.handle(Self.robotsHandlerName) { [self] job in
            Array(try JSONEncoder().encode(try await robots(origin: job.text)))
        }
        worker.handle(Self.handlerName) { [self] job in
            let task: CrawlTask
            do {
                task = try JSONDecoder().decode(CrawlTask.self, from: Data(job.payload))
            } catch {
                throw JobFailure("not a crawl task: \(error)", retryable: false)
            }
            return Array(try JSONEncoder().encode(try await fetch(task)))
        }
    }

    /// Fetches the robots.txt of `origin` (`scheme://host[:port]`). A 5xx or no answer is a
    /// retryable failure (the dispatcher asks again with backoff; a crawl whose robots job fails
    /// for good treats the host as disallowed for a while); a file over 500 KiB is taken as empty
    /// (everything allowed).
    public func robots(origin: String) async throws -> RobotsAnswer {
        let response: HTTPClientResponse
        do {
            response = try await robotsClient.get(origin + "/robots.txt")
        } catch HTTPClientError.invalidURL(let url) {
            throw JobFailure("not an origin: \(url)", retryable: false)
        } catch HTTPClientError.bodyTooLarge {
            return RobotsAnswer(status: 200, body: "")  // RFC 9309 parses the first 500 KiB; we parse none of it
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw JobFailure("robots.txt of \(origin): \(error)", retryable: true)
        }
        if response.status >= 500 || response.status == 429 {  // RFC 9309: 429 is "unreachable", not "unavailable"
            throw JobFailure("robots.txt of \(origin): HTTP \(response.status)", retryable: true, retryAfter: response.retryAfter())
        }
        return RobotsAnswer(status: response.status, body: response.text)
    }

    /// Fetches one page as `task` says.
    public func fetch(_ task: CrawlTask) async throws -> PageRecord {
        var record = PageRecord(crawl: task.crawl, url: task.url, depth: task.depth, status: 0)
        guard let url = URL(string: task.url), let scheme = url.scheme, let host = url.host else {
            record.error = "not an http(s) URL"
            return record
        }
        let origin = "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
        if let until = hostFailures[origin]?.until, until > .now {
            // A short pause here; a long one waits in the dispatcher, holding no slot, no timeout.
            guard until - .now <= .seconds(5) else {
                throw JobFailure("\(origin) is backed off", retryable: true, retryAfter: until - .now)
            }
            try await sleep(for: until - .now)
        }
        let started = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            response = try await client(maxBytes: task.policy.maxPageBytes).get(task.url)
        } catch HTTPClientError.bodyTooLarge(let limit) {
            record.error = "page over \(limit) bytes"
            return record
        } catch let error as HTTPClientError {
            if case .invalidURL = error {
                record.error = "\(error)"
                return record
            }
            throw hostFailed(origin, JobFailure("\(error)", retryable: true))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw hostFailed(origin, JobFailure("\(error)", retryable: true))  // connection refused, timeout
        }
        record.milliseconds = Double((ContinuousClock.now - started) / .microseconds(1)) / 1000
        record.status = response.status
        record.bytes = response.body.count
        record.contentType = response.header("Content-Type")
        if [429, 500, 502, 503, 504].contains(response.status) {
            let asked = [429, 503].contains(response.status) ? response.retryAfter().map { min($0, Self.maxRetryAfter) } : nil
            throw hostFailed(origin, JobFailure("HTTP \(response.status)", retryable: true, retryAfter: asked))
        }
        hostFailures[origin] = nil
        if (300..<400).contains(response.status), let location = response.header("Location"),
            let next = URL(string: location, relativeTo: url)?.absoluteURL
        {
            record.redirect = HTMLPage.normalizedURL(next)
        }
        if response.status == 200 && task.policy.parses(contentType: record.contentType) {
            let page = HTMLPage(html: response.body, url: url)
            record.title = page.title
            var seen = Set<String>()
            record.links = page.links.filter { seen.insert($0).inserted }
        }
        return record
    }

    /// Counts a failure of `origin` and backs it off if it keeps failing or asked to wait; returns `failure`.
    private func hostFailed(_ origin: String, _ failure: JobFailure) -> JobFailure {
        let count = (hostFailures[origin]?.count ?? 0) + 1
        var until = ContinuousClock.now
        if count >= Self.backoffAfter {
            until += min(Self.maxHostBackoff, .seconds(1) * (1 << min(count - Self.backoffAfter, 16)))
        }
        if let asked = failure.retryAfter { until = max(until, .now + asked) }
        hostFailures[origin] = (count, until)
        return failure
    }

    /// The page client for a size limit (one per limit in use; crawls rarely differ).
    private func client(maxBytes: Int) -> HTTPClient {
        if let client = clients[maxBytes] { return client }
        var configuration = HTTPClient.Configuration()
        configuration.userAgent = userAgent
        configuration.followsRedirects = false
        configuration.readTimeout = timeout
        configuration.totalTimeout = timeout
        configuration.maxBodyBytes = maxBytes
        let client = HTTPClient(configuration: configuration)
        clients[maxBytes] = client
        return client
    }
}
