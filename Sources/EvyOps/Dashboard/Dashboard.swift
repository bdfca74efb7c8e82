import Evy
import EvyFeeds
import EvyHTTP
import EvyJobs
import DequeModule
import Foundation
import Glibc
import Logging

/// The collector's web dashboard (Flower's, for Evy): one page, its script and styles served by
/// the collector itself (no CDN, works offline), and a WebSocket (`/ws`) that pushes a
/// ``snapshot()`` every ``Configuration/refresh``: jobs/s submitted, done and failed, queue depths
/// by handler and priority, each worker's host, slots, jobs in flight and last heartbeat, retries,
/// dead letters, the crawl's progress and the feeds that fail.
///
/// Actions (what Flower users use): `POST /api/jobs/ID/cancel`, `POST /api/dead/retry` and
/// `POST /api/dead/purge` (`?job=ID` for one job, all without), unless ``Configuration/allowActions``
/// is off. They need the header `X-Evy-Action: 1`, which a page of another origin cannot send
/// without a CORS preflight this server never grants, and, like the WebSocket, an `Origin` (when
/// the browser sends one) naming the host asked. Every dashboard request must name, in `Host`, an
/// IP address, `localhost`, this machine's name or one of ``Configuration/allowedHosts``: a page
/// elsewhere cannot make an operator's browser act, nor read the snapshots through DNS rebinding.
/// There is no login: listen on loopback, or behind a proxy that authenticates.
///
/// Hub-confined: made and used on the collector's hub. The dispatcher's part comes from its client
/// endpoint; while the dispatcher does not answer, snapshots say so (`dispatcherError`) and carry
/// the collector's part alone.
public final class Dashboard: @unchecked Sendable {
    /// Where the dashboard reads what the collector does not know.
    public struct Configuration: Sendable {
        /// The dispatcher's client endpoint (status, dead letters, cancel).
        public var dispatcher: String
        /// CURVE keys for that connection (the collector's own, with the dispatcher's public key).
        public var keys: JobKeys?
        /// A feed scraper's state file (`evy feeds --state`), for the failing feeds; nil: no feeds panel.
        public var feedsState: String?
        /// How often the page gets a new snapshot.
        public var refresh: Duration = .seconds(1)
        /// Whether the page may cancel jobs and retry or purge dead letters.
        public var allowActions = true
        /// Host names (without port) the dashboard may be reached by besides IP addresses,
        /// `localhost` and this machine's name (a proxy's name, say).
        public var allowedHosts: Set<String> = []

        /// A dashboard reading the dispatcher at `dispatcher`.
        public init(dispatcher: String) { self.dispatcher = dispatcher }
    }

    public let configuration: Configuration
    private let collector: Collector
    private var client: JobClient?
    private var cached: (at: ContinuousClock.Instant, json: [UInt8])?
    private var feeds: (at: ContinuousClock.Instant, value: Any)?
    /// Jobs per second (submitted, done, failed) at each sample, the newest last: what the chart
    /// draws, kept here so that a page opened now shows the last minutes at once.
    private var history = Deque<[Double]>()
    private var lastTotals: (at: Double, counts: [Double])?
    private var sampler: GreenThread<Void>?
    /// Samples the chart keeps (at one per refresh, five minutes).
    static let historyLength = 300
    private let logger = Logger(label: "evy.dashboard")

    /// A dashboard for `collector` (on its hub).
    public init(collector: Collector, configuration: Configuration) {
        self.collector = collector
        self.configuration = configuration
    }

    /// Samples the dispatcher every refresh from now on, so that the chart has a history before
    /// anyone opens the page.
    public func start() {
        guard sampler == nil else { return }
        sampler = spawn(name: "dashboard sampler") { [self] in
            while true {
                _ = await snapshot()
                guard (try? await sleep(for: configuration.refresh)) != nil else { return }
            }
        }
    }

    /// Stops sampling and closes the connection to the dispatcher.
    public func close() {
        sampler?.cancel()
        sampler = nil
        client?.close()
        client = nil
    }

    private func dispatcherClient() throws -> JobClient {
        if let client { return client }
        let made = try JobClient(dispatcher: configuration.dispatcher, keys: configuration.keys)
        made.timeout = .seconds(2)
        client = made
        return made
    }

    // MARK: Requests

    /// The answer to `request` if it is one of the dashboard's, else nil.
    public func respond(to request: HTTPRequest) async throws -> HTTPResponse? {
        let known = ["/", "/index.html", "/dashboard.js", "/dashboard.css", "/api/snapshot", "/ws"]
        guard known.contains(request.path) || request.path.hasPrefix("/api/") else { return nil }
        guard let host = request.header("Host").flatMap({ Self.hostName(ofHost: $0) }), isAllowed(host: host) else {
            return .text("this dashboard is not served under that host name (Host header)\n", status: 421)
        }
        if request.path == "/ws" || request.method == "POST",
            let origin = request.header("Origin"), Self.hostName(ofOrigin: origin) != host
        {
            return .text("cross-origin requests are refused\n", status: 403)
        }
        switch (request.method, request.path) {
        case ("GET", "/"), ("GET", "/index.html"):
            return asset(DashboardAssets.page, type: "text/html; charset=utf-8")
        case ("GET", "/dashboard.js"):
            return asset(DashboardAssets.script, type: "text/javascript; charset=utf-8")
        case ("GET", "/dashboard.css"):
            return asset(DashboardAssets.styles, type: "text/css; charset=utf-8")
        case ("GET", "/api/snapshot"):
            return json(await snapshot())
        case ("GET", "/ws"):
            return .webSocket(request, maxMessageBytes: 4096) { [self] socket in await push(to: socket) }
        case ("POST", let path) where path.hasPrefix("/api/"):
            guard configuration.allowActions else {
                return .text("actions are off on this dashboard (see evy-collector --dashboard-actions)\n", status: 403)
            }
            guard request.header("X-Evy-Action") == "1" else {
                return .text("actions need the header X-Evy-Action: 1\n", status: 403)
            }
            return await act(path: path, query: request.query ?? "")
        default:
            return nil
        }
    }

    private func asset(_ text: String, type: String) -> HTTPResponse {
        HTTPResponse(
            headers: [
                ("Content-Type", type), ("Cache-Control", "no-cache"),
                ("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:"),
                ("X-Content-Type-Options", "nosniff"),
            ], body: Array(text.utf8))
    }

    private func json(_ bytes: [UInt8], status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body: bytes)
    }

    /// The host part of a `Host` header (`name:port`, `[::1]:port`), lowercased.
    static func hostName(ofHost header: String) -> String? {
        var text = header.trimmingCharacters(in: .whitespaces).lowercased()
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            return String(text[text.index(after: text.startIndex)..<close])
        }
        if let colon = text.lastIndex(of: ":") { text = String(text[..<colon]) }
        return text.isEmpty ? nil : text
    }

    /// The host part of an `Origin` header (`http://name:port`).
    static func hostName(ofOrigin origin: String) -> String? {
        guard let scheme = origin.range(of: "://") else { return nil }
        return hostName(ofHost: String(origin[scheme.upperBound...].prefix { $0 != "/" }))
    }

    private func isAllowed(host: String) -> Bool {
        var address = in6_addr()
        return host == "localhost" || inet_pton(AF_INET, host, &address) == 1 || inet_pton(AF_INET6, host, &address) == 1
            || host == ProcessInfo.processInfo.hostName.lowercased() || configuration.allowedHosts.contains(host)
    }

    private func act(path: String, query: String) async -> HTTPResponse {
        let parts = path.split(separator: "/")
        // `job=` names one job; a value that is not a job id is refused, never read as "all".
        var job: UInt64?
        for pair in query.split(separator: "&") {
            let item = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard item.first == "job" else { continue }
            guard item.count == 2, let id = UInt64(item[1]), id > 0 else {
                return json(Array(#"{"error": "job= takes a job id"}"#.utf8), status: 400)
            }
            job = id
        }
        do {
            let words = parts.dropFirst().map(String.init)
            if words.count == 3 && words[0] == "jobs" && words[2] == "cancel" {
                guard let id = UInt64(words[1]) else {
                    return json(Array(#"{"error": "not a job id"}"#.utf8), status: 400)
                }
                let outcome = try await dispatcherClient().cancel(id)
                cached = nil
                return json(Array(#"{"job": \#(id), "outcome": "\#(outcome)"}"#.utf8))
            }
            switch words {
            case ["dead", "retry"], ["dead", "purge"]:
                let action: DeadLetterAction = parts.last == "retry" ? .retry : .purge
                let count = try await dispatcherClient().deadLetters(action, job: job ?? 0)
                cached = nil
                return json(Array(#"{"count": \#(count)}"#.utf8))
            default:
                return json(Array(#"{"error": "no such action"}"#.utf8), status: 404)
            }
        } catch {
            logger.warning("dashboard action \(path) failed: \(error)")
            return json(Array(#"{"error": \#(jsonQuoted("\(error)"))}"#.utf8), status: 502)
        }
    }

    /// Sends a snapshot every `refresh` until the page goes away.
    private func push(to socket: WebSocket) async {
        let reader = spawn(name: "dashboard socket reader") { while (try? await socket.receive()) ?? nil != nil {} }
        defer { reader.cancel() }
        while !reader.isDone {
            guard (try? await socket.send(String(decoding: await snapshot(), as: UTF8.self))) != nil else { break }
            _ = try? await reader.wait(timeout: configuration.refresh)
        }
        await socket.close()
    }

    // MARK: Snapshots

    /// What the page shows, as JSON: `at` (Unix ms), `collector` (its status), `dispatcher` (its
    /// status, or null with `dispatcherError`), `active` and `dead` (up to 50 jobs each), `crawl`
    /// (pages done, queued, in errors; null before any crawl) and `feeds` (null without a state
    /// file), and `history` (chart points `[unix ms, submitted/s, done/s, failed/s]`, oldest first).
    /// Built at most once per half refresh, however many pages watch.
    public func snapshot() async -> [UInt8] {
        if let cached, ContinuousClock.now - cached.at < configuration.refresh / 2 { return cached.json }
        let collectorStatus = parse(collector.statusJSON())
        var object: [String: Any] = [
            "at": Int(Date().timeIntervalSince1970 * 1000), "collector": collectorStatus,
            "dispatcher": NSNull(), "active": [Any](), "dead": [Any](),
        ]
        do {
            let client = try dispatcherClient()
            let status = parse(try await client.query("status", limit: 200))
            object["dispatcher"] = status
            sample(status)
            object["active"] = parse(try await client.query("active", limit: 50))
            object["dead"] = parse(try await client.query("dead", limit: 50))
            object["crawl"] = crawlProgress(dispatcher: status, collector: collectorStatus) ?? NSNull()
        } catch {
            object["dispatcherError"] = "\(error)"
            object["crawl"] = crawlProgress(dispatcher: nil, collector: collectorStatus) ?? NSNull()
        }
        object["feeds"] = feedsPanel() ?? NSNull()
        object["history"] = Array(history)
        let json = Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
        cached = (.now, json)
        return json
    }

    /// Adds a chart point from the dispatcher's counters: their change since the last sample.
    private func sample(_ status: Any) {
        guard let status = status as? [String: Any] else { return }
        let at = Date().timeIntervalSince1970
        let count = { (key: String) in Double(status[key] as? Int ?? 0) }
        let counts = [count("submitted"), count("done"), count("retried") + count("dead")]
        // One point per refresh however many callers build snapshots (the chart's time axis).
        if let last = lastTotals, at - last.at < Double(configuration.refresh / .milliseconds(1)) / 1000 * 0.9 { return }
        defer { lastTotals = (at, counts) }
        guard let last = lastTotals else { return }
        // A restarted dispatcher counts from zero again: no negative rates.
        let rates = zip(counts, last.counts).map { max(0, ($0 - $1) / (at - last.at)) }
        history.append([(at * 1000).rounded()] + rates.map { ($0 * 100).rounded() / 100 })
        if history.count > Self.historyLength { history.removeFirst() }
    }

    private func parse(_ bytes: [UInt8]) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) ?? NSNull()
    }

    /// Pages recorded, queued and failed for the crawler's fetch handler; nil if it never ran.
    private func crawlProgress(dispatcher: Any?, collector: Any) -> [String: Int]? {
        let handler = "crawl.fetch"
        let recorded = ((collector as? [String: Any])?["handlers"] as? [String: Any])?[handler] as? [String: Int]
        let queues = ((dispatcher as? [String: Any])?["queues"] as? [[String: Any]]) ?? []
        let queued = queues.filter { $0["handler"] as? String == handler }.reduce(0) { $0 + ($1["depth"] as? Int ?? 0) }
        guard recorded != nil || queued > 0 else { return nil }
        return [
            "done": recorded?["succeeded"] ?? 0, "errors": (recorded?["failed"] ?? 0) + (recorded?["dead"] ?? 0),
            "queued": queued,
        ]
    }

    /// Feeds polled, and the failing or gone ones with their last error; read every 5 s at most.
    private func feedsPanel() -> Any? {
        guard let path = configuration.feedsState, FileManager.default.fileExists(atPath: path) else { return nil }
        if let feeds, ContinuousClock.now - feeds.at < .seconds(5) { return feeds.value }
        var value: Any = NSNull()
        do {
            let store = try FeedStateStore(path: path)
            defer { store.close() }
            let states = try store.all()
            let failing = states.filter { $0.errors > 0 || $0.status != .active }.prefix(100).map { state in
                [
                    "url": state.url, "title": state.title ?? "", "status": state.status.rawValue,
                    "errors": state.errors, "lastError": state.lastError ?? "", "lastStatus": state.lastStatus,
                    "nextPoll": Int(state.nextPoll * 1000),
                ] as [String: Any]
            }
            value = ["total": states.count, "failing": Array(failing)] as [String: Any]
        } catch {
            value = ["error": "\(error)"]
        }
        feeds = (.now, value)
        return value
    }
}
