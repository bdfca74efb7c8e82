import Evy
import EvyCrawler
import EvyHTTP
import EvyJobs
import EvyTestSupport
import Foundation
import XCTest

/// A whole crawl through the job system (dispatcher, collector, two workers over inproc://)
/// against a site this test serves, full of traps. The pages recorded with 200 must be exactly
/// the ones a correct crawler reaches, each fetched once.
final class CrawlTests: XCTestCase {
    private static func html(_ text: String) -> HTTPResponse {
        HTTPResponse(headers: [("Content-Type", "text/html; charset=utf-8")], body: Array(text.utf8))
    }

    /// The site: path → response. Counts every request by path.
    private static func site(_ hits: Box<[String: Int]>, throttled: Box<[ContinuousClock.Instant]>) -> HTTPHandler {
        { request, _ in
            let path = request.path
            hits.value[path, default: 0] += 1
            func page(_ links: [String], _ extra: String = "") -> HTTPResponse {
                html(
                    "<html><head><title>\(path)</title></head><body>"
                        + links.map { "<a href=\"\($0)\">\($0)</a>" }.joined() + extra + "</body></html>")
            }
            func redirect(_ status: Int, _ location: String) -> HTTPResponse {
                HTTPResponse(status: status, headers: [("Location", location)])
            }
            switch path {
            case "/robots.txt": return .text("User-agent: *\nDisallow: /private\n")
            case "/":
                return page(
                    [
                        "/a", "/b", "/redirect-chain/1", "/loop/1", "/cal/2026/1", "/missing", "/gone", "/error",
                        "/private/secret", "mailto:someone@example.org", "http://offsite.example/",
                        "/trap/x/trap/x/trap/", "/big", "/latin1", "/broken", "/a#fragment", "/slow", "/throttled",
                    ], "<!-- <a href=\"/commented\">not a link</a> -->")
            case "/a": return page(["/b", "/a", "/"])
            case "/b": return page(["/c"])
            case "/c": return page([])
            case "/redirect-chain/1": return redirect(301, "/redirect-chain/2")
            case "/redirect-chain/2": return redirect(302, "/final")
            case "/final": return page([])
            case "/loop/1": return redirect(301, "/loop/2")
            case "/loop/2": return redirect(301, "/loop/1")
            case "/throttled":  // 429 with Retry-After the first time, then the page
                throttled.value.append(.now)
                if throttled.value.count == 1 { return HTTPResponse(status: 429, headers: [("Retry-After", "1")]) }
                return page([])
            case "/missing": return .text("no", status: 404)
            case "/gone": return .text("gone", status: 410)
            case "/error": return .text("oops", status: 500)
            case "/big": return page([], String(repeating: "x", count: 200_000))
            case "/latin1":
                return HTTPResponse(
                    headers: [("Content-Type", "text/html; charset=iso-8859-1")],
                    body: Array("<html><body>caf".utf8) + [0xE9] + Array("<a href=\"/from-latin1\">x</a></body></html>".utf8))
            case "/broken":
                return html("<html><body><a href=/from-broken>x</a><div><p>unclosed <b")
            case "/from-latin1", "/from-broken": return page([])
            case "/slow":
                try await sleep(for: .seconds(2))
                return page([])
            default:
                if path.hasPrefix("/cal/2026/"), let month = Int(path.dropFirst("/cal/2026/".count)) {
                    return page(["/cal/2026/\(month + 1)"])  // an endless calendar
                }
                return .text("not here", status: 404)
            }
        }
    }

    func testACrawlRecordsExactlyThePagesACorrectCrawlerReachesEachOnce() throws {
        let directory = NSTemporaryDirectory() + "evy-crawl-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let hits = Box<[String: Int]>([:])
            let throttled = Box<[ContinuousClock.Instant]>([])
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration, handler: Self.site(hits, throttled: throttled))
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { try await server.serve(listener) }
            let base = "http://127.0.0.1:\(listener.localAddress!.port)"

            let system = try EmbeddedSystem(
                directory: directory, workers: 2, slots: 20, heartbeat: .milliseconds(100),
                tune: { dispatcher, _ in
                    dispatcher.retryDelay = .milliseconds(10)
                    dispatcher.defaultMaxRetries = 1
                }
            ) { worker in CrawlFetcher(timeout: .milliseconds(500)).register(on: worker) }
            let client = try system.client()
            var policy = CrawlPolicy()
            policy.maxDepth = 4
            policy.maxPageBytes = 100_000
            let crawl = Crawl(client: client, id: "site", seeds: [base + "/"], policy: policy)
            let summary = try await crawl.run()

            // Every recorded page, from the collector.
            let json = try await client.queryCollector("results", limit: 10_000)
            let page = try JSONSerialization.jsonObject(with: Data(json)) as! [String: Any]
            var okPages = Set<String>()
            for item in page["results"] as! [[String: Any]] {
                guard let text = item["result"] as? String,
                    let record = try? JSONDecoder().decode(PageRecord.self, from: Data(text.utf8)), record.status == 200
                else { continue }
                XCTAssertTrue(okPages.insert(String(record.url.dropFirst(base.count))).inserted, "\(record.url) twice")
            }
            let expected: Set<String> = [
                "/", "/a", "/b", "/c", "/final", "/cal/2026/1", "/cal/2026/2", "/cal/2026/3", "/cal/2026/4", "/latin1",
                "/broken", "/from-latin1", "/from-broken", "/throttled",
            ]
            XCTAssertEqual(okPages, expected, "exactly the reachable pages")
            for path in expected where path != "/throttled" { XCTAssertEqual(hits.value[path], 1, "\(path) fetched once") }
            for never in ["/private/secret", "/commented", "/trap/x/trap/x/trap/", "/cal/2026/5"] {
                XCTAssertNil(hits.value[never], "\(never) is never requested")
            }
            XCTAssertEqual(throttled.value.count, 2, "a 429 is asked again once")
            if throttled.value.count == 2 {
                XCTAssertGreaterThanOrEqual(
                    throttled.value[1] - throttled.value[0], .seconds(1), "not before its Retry-After (the retry delay is 10 ms)")
            }
            XCTAssertEqual(hits.value["/loop/1"], 1, "a redirect loop ends at the frontier")
            XCTAssertEqual(hits.value["/loop/2"], 1)
            XCTAssertEqual(hits.value["/robots.txt"], 1, "robots.txt once for both workers")
            XCTAssertEqual(summary.skipped[.robots], 1, "/private/secret")
            XCTAssertEqual(summary.statuses[200], expected.count)
            XCTAssertEqual(summary.statuses[404], 1)
            XCTAssertEqual(summary.statuses[410], 1)
            XCTAssertEqual(summary.skipped[.offSite], 1)
            XCTAssertEqual(summary.skipped[.repeatedSegment], 1)
            XCTAssertEqual(summary.skipped[.tooDeep], 1, "the calendar's fifth month")
            client.close()
            await system.stop()

            // The same crawl again on the same journals: it resumes, and every page is recorded
            // already, so nothing is fetched again.
            let fetchedBefore = hits.value
            let again = try EmbeddedSystem(directory: directory, workers: 2, heartbeat: .milliseconds(100)) { worker in
                CrawlFetcher(timeout: .milliseconds(500)).register(on: worker)
            }
            let secondClient = try again.client()
            let resumed = try await Crawl(client: secondClient, id: "site", seeds: [base + "/"], policy: policy).run()
            XCTAssertEqual(resumed.statuses[200], expected.count, "the recorded pages come back")
            XCTAssertEqual(hits.value, fetchedBefore, "no page fetched twice")
            secondClient.close()
            await again.stop()
            await server.stop()
        }
    }
}

/// A crawl whose roles all stop half-way (the embedded process going down) and that is run
/// again on the same journals: it finishes, every page recorded once, none fetched again that
/// was recorded before the stop.
final class CrawlResumeTests: XCTestCase {
    func testACrawlStoppedHalfWayResumesWithoutRefetchingWhatWasRecorded() throws {
        let directory = NSTemporaryDirectory() + "evy-crawl-resume-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(120)) {
            // 400 pages, each linking to the next five (mod 400): 80 links deep.
            let policy = { () -> CrawlPolicy in
                var policy = CrawlPolicy()
                policy.maxDepth = 100
                return policy
            }()
            let hits = Box<[String: Int]>([:])
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration) { request, _ in
                hits.value[request.path, default: 0] += 1
                guard request.path.hasPrefix("/p/"), let n = Int(request.path.dropFirst(3)) else {
                    return .text("", status: 404)
                }
                let links = (1...5).map { "<a href=\"/p/\(($0 + n) % 400)\">x</a>" }.joined()
                return HTTPResponse(
                    headers: [("Content-Type", "text/html")], body: Array("<html><body>\(links)</body></html>".utf8))
            }
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { try await server.serve(listener) }
            let seed = "http://127.0.0.1:\(listener.localAddress!.port)/p/0"
            func start() throws -> EmbeddedSystem {
                try EmbeddedSystem(directory: directory, workers: 2, slots: 4, heartbeat: .milliseconds(100)) {
                    CrawlFetcher(timeout: .seconds(5)).register(on: $0)
                }
            }
            func recorded(_ client: JobClient) async throws -> Set<String> {
                var pages = Set<String>()
                var after: UInt64 = 0
                while true {
                    let json = try await client.queryCollector("results", after: after, limit: 1000)
                    let page = try JSONSerialization.jsonObject(with: Data(json)) as! [String: Any]
                    let items = page["results"] as! [[String: Any]]
                    if items.isEmpty { return pages }
                    for item in items {
                        if let text = item["result"] as? String,
                            let record = try? JSONDecoder().decode(PageRecord.self, from: Data(text.utf8))
                        {
                            XCTAssertTrue(pages.insert(record.url).inserted, "\(record.url) recorded twice")
                        }
                    }
                    after = UInt64(page["next"] as! Int)
                }
            }

            // First run: stopped once about a quarter of the pages are done.
            let first = try start()
            let firstClient = try first.client()
            let done = Box(0)
            let crawling = spawn {
                _ = try await Crawl(client: firstClient, id: "resume", seeds: [seed], policy: policy).run { done.value = $0.done }
            }
            try await waitUntil("a quarter of the pages", timeout: .seconds(60)) { done.value >= 100 }
            crawling.cancel()
            let before = try await recorded(firstClient)
            XCTAssertLessThan(before.count, 400, "stopped half-way")
            firstClient.close()
            await first.stop()
            let fetchedBefore = hits.value

            // Second run on the same journals: it finishes.
            let second = try start()
            let secondClient = try second.client()
            let summary = try await Crawl(client: secondClient, id: "resume", seeds: [seed], policy: policy).run()
            XCTAssertEqual(summary.statuses[200], 400, "every page, the recorded ones coming back")
            let after = try await recorded(secondClient)
            XCTAssertEqual(after.count, 400, "none missed, each recorded once")
            for url in before {
                let path = String(url.dropFirst(seed.count - "/p/0".count))
                XCTAssertEqual(hits.value[path], fetchedBefore[path], "\(path) was recorded: not fetched again")
            }
            secondClient.close()
            await second.stop()
            await server.stop()
        }
    }
}

/// robots.txt's Crawl-delay is the spacing of the host at the dispatcher, for all workers at once.
final class CrawlDelayTests: XCTestCase {
    func testCrawlDelaySpacesEveryFetchOfAHostAcrossWorkers() throws {
        let directory = NSTemporaryDirectory() + "evy-crawl-delay-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let starts = Box<[ContinuousClock.Instant]>([])
            let robotsHits = Box(0)
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration) { request, _ in
                if request.path == "/robots.txt" {
                    robotsHits.value += 1
                    return .text("User-agent: *\nCrawl-delay: 0.2\n")
                }
                starts.value.append(.now)
                let links = (1...5).map { "<a href=\"/p/\($0)\">x</a>" }.joined()
                return HTTPResponse(
                    headers: [("Content-Type", "text/html")], body: Array("<html><body>\(links)</body></html>".utf8))
            }
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { try await server.serve(listener) }
            let system = try EmbeddedSystem(directory: directory, workers: 2, slots: 10, heartbeat: .milliseconds(100)) {
                CrawlFetcher(timeout: .seconds(5)).register(on: $0)
            }
            let client = try system.client()
            let crawl = Crawl(client: client, id: "delay", seeds: ["http://127.0.0.1:\(listener.localAddress!.port)/"])
            let summary = try await crawl.run()
            XCTAssertEqual(summary.statuses[200], 6, "the seed and its five pages")
            XCTAssertEqual(robotsHits.value, 1)
            let gaps = zip(starts.value.dropFirst(), starts.value).map { $0 - $1 }
            XCTAssertEqual(gaps.count, 5)
            for gap in gaps { XCTAssertGreaterThanOrEqual(gap, .milliseconds(150), "Crawl-delay 0.2 s between fetches") }
            client.close()
            await system.stop()
            await server.stop()
        }
    }
}
