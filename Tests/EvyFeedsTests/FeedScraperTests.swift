import Evy
import EvyCrawl
import EvyFeeds
import EvyHTTP
import EvyJobs
import EvyTestSupport
import Foundation
import XCTest

/// Feeds this test serves itself: RSS with ETag and Last-Modified (answering conditional GETs
/// with 304), and the feeds a scraper must survive. Counts every request and the most requests
/// in progress at once. Hub-confined.
final class FeedSite: @unchecked Sendable {
    /// path → entry ids (newest first), served as RSS; the version changes the ETag.
    var feeds: [String: (version: Int, ids: [String])] = [:]
    var hits: [String: Int] = [:]
    var conditionalHits: [String: Int] = [:]
    var inProgress = 0
    var mostInProgress = 0
    /// Added to every feed response, so requests overlap (the per-host cap is observable).
    var delay: Duration = .zero

    static func rss(_ path: String, ids: [String]) -> String {
        let now = Date()
        let items = ids.enumerated().map { index, id in
            // One every 6 hours: 10 entries are all in the last week.
            let date = now.addingTimeInterval(-Double(index) * 6 * 3600 - 60)
            return "<item><title>\(id) &amp; co</title><link>http://news.example\(path)/\(id)</link><guid>\(id)</guid>"
                + "<pubDate>\(Self.rfc822(date))</pubDate><description>About \(id)</description></item>"
        }
        return "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed \(path)</title>"
            + "<link>http://news.example\(path)</link>" + items.joined() + "</channel></rss>"
    }

    private static func rfc822(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }

    var handler: HTTPHandler {
        { [self] request, _ in
            let path = request.path
            hits[path, default: 0] += 1
            inProgress += 1
            mostInProgress = max(mostInProgress, inProgress)
            defer { inProgress -= 1 }
            if delay > .zero { try await sleep(for: delay) }
            switch path {
            case "/error": return .text("down", status: 500)
            case "/gone": return .text("gone", status: 410)
            case "/busy": return HTTPResponse(status: 429, headers: [("Retry-After", "7200")])
            case "/old": return HTTPResponse(status: 301, headers: [("Location", "/new")])
            case "/temporary": return HTTPResponse(status: 302, headers: [("Location", "/elsewhere")])
            case "/not-a-feed": return .text("<html><body>hello</body></html>")
            case "/bozo":
                return HTTPResponse(
                    headers: [("Content-Type", "application/rss+xml")],
                    body: Array(
                        "<rss version=\"2.0\"><channel><title>Broken</title><item><title>one</title><guid>b1</guid></item><item><title>two <b></title><guid>b2</guid>"
                            .utf8))
            default:
                let key = path == "/new" || path == "/elsewhere" ? path : path
                guard let feed = feeds[key] else { return .text("no such feed", status: 404) }
                let etag = "\"\(path)-v\(feed.version)\""
                if request.header("If-None-Match") == etag {
                    conditionalHits[path, default: 0] += 1
                    return HTTPResponse(status: 304, headers: [("ETag", etag)])
                }
                return HTTPResponse(
                    headers: [
                        ("Content-Type", "application/rss+xml"), ("ETag", etag),
                        ("Last-Modified", "Mon, 30 Nov 2026 10:00:00 GMT"),
                    ],
                    body: Array(Self.rss(path, ids: feed.ids).utf8))
            }
        }
    }
}

final class FeedScraperTests: XCTestCase {
    /// Every entry recorded in the collector, as (feed, key) pairs, failing on any recorded twice.
    private static func recordedEntries(_ client: JobClient, file: StaticString = #filePath, line: UInt = #line)
        async throws -> [FeedItem]
    {
        var items: [FeedItem] = []
        var keys = Set<String>()
        var after: UInt64 = 0
        while true {
            let json = try await client.queryCollector("results", after: after, limit: 1000)
            let page = try JSONSerialization.jsonObject(with: Data(json)) as! [String: Any]
            let results = page["results"] as! [[String: Any]]
            if results.isEmpty { return items }
            for result in results {
                guard let text = result["result"] as? String,
                    let poll = try? JSONDecoder().decode(FeedPoll.self, from: Data(text.utf8))
                else { continue }
                for item in poll.entries {
                    XCTAssertTrue(keys.insert(item.feed + " " + item.key).inserted, "\(item) recorded twice", file: file, line: line)
                    items.append(item)
                }
            }
            after = UInt64(page["next"] as! Int)
        }
    }

    func testPassesRecordEveryEntryOnceUseConditionalGetsAndHandleBadFeeds() throws {
        let directory = NSTemporaryDirectory() + "evy-feeds-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let site = FeedSite()
            for n in 0..<20 { site.feeds["/f/\(n)"] = (1, (0..<10).map { "f\(n)-e\($0)" }) }
            site.feeds["/new"] = (1, ["moved-1", "moved-2"])
            site.feeds["/elsewhere"] = (1, ["temp-1"])
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration, handler: site.handler)
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { try await server.serve(listener) }
            let base = "http://127.0.0.1:\(listener.localAddress!.port)"
            let special = ["/error", "/gone", "/busy", "/old", "/temporary", "/not-a-feed", "/bozo"]
            let paths = (0..<20).map { "/f/\($0)" } + special

            let system = try EmbeddedSystem(directory: directory, workers: 2, slots: 20, heartbeat: .milliseconds(100)) {
                FeedPoller(timeout: .seconds(5)).register(on: $0)
            }
            let client = try system.client()
            let store = try FeedStateStore(path: directory + "/feeds.sqlite3")
            XCTAssertEqual(try store.add(paths.map { OPML.Outline(url: base + $0) }), paths.count)
            XCTAssertEqual(try store.add([OPML.Outline(url: base + "/f/0")]), 0, "a feed is listed once")
            let scraper = FeedScraper(client: client, store: store)

            // Pass 1: every entry of every feed that works.
            let first = try await scraper.run(.once)
            XCTAssertEqual(first.progress.polls, paths.count)
            XCTAssertEqual(first.progress.entries, 20 * 10 + 2 + 1 + 2, "the 20 feeds, /old's target, /temporary's, /bozo's")
            XCTAssertEqual(first.progress.notModified, 0)
            XCTAssertEqual(first.bozo, 1)
            XCTAssertEqual(Set(first.failing.map(\.feed)), Set(["/error", "/busy", "/not-a-feed"].map { base + $0 }))
            XCTAssertEqual(first.gone.map(\.feed), [base + "/gone"])
            var entries = try await Self.recordedEntries(client)
            XCTAssertEqual(entries.count, first.progress.entries)
            let sample = try XCTUnwrap(entries.first { $0.id == "f3-e0" })
            XCTAssertEqual(sample.feed, base + "/f/3")
            XCTAssertEqual(sample.title, "f3-e0 & co")
            XCTAssertEqual(sample.link, "http://news.example/f/3/f3-e0")
            XCTAssertEqual(sample.summary, "About f3-e0")
            XCTAssertNotNil(sample.published)
            let states = Dictionary(uniqueKeysWithValues: try store.all().map { ($0.feed, $0) })
            let busy = try XCTUnwrap(states[base + "/busy"])
            XCTAssertEqual(busy.nextPoll - busy.lastPoll, 7200, accuracy: 1, "Retry-After honoured")
            let working = try XCTUnwrap(states[base + "/f/0"])
            XCTAssertEqual(
                working.nextPoll - working.lastPoll, 7 * 24 * 3600 / 10, accuracy: 1, "adaptive: 10 entries a week")

            // Pass 2, nothing changed: conditional GETs, 304s, nothing recorded; /gone not asked.
            let second = try await scraper.run(.once)
            XCTAssertEqual(second.progress.polls, paths.count - 1, "/gone is no longer polled")
            XCTAssertEqual(second.progress.entries, 0)
            XCTAssertEqual(second.progress.notModified, 20 + 2, "the 20 feeds and the two redirect targets")
            for n in 0..<20 { XCTAssertEqual(site.conditionalHits["/f/\(n)"], 1) }
            XCTAssertEqual(site.hits["/gone"], 1)
            let failing = Dictionary(uniqueKeysWithValues: second.failing.map { ($0.feed, $0) })
            XCTAssertEqual(failing[base + "/error"]?.errors, 2, "still polled, and counted")
            XCTAssertEqual(failing[base + "/error"]?.lastError, "HTTP 500")

            // Pass 3: two feeds published; only the new entries are recorded. /old moves now (its
            // third 301 in a row); /temporary (302) never does.
            site.feeds["/f/5"] = (2, ["f5-new1", "f5-new2"] + site.feeds["/f/5"]!.ids)
            site.feeds["/f/6"] = (2, ["f6-new"] + site.feeds["/f/6"]!.ids.dropLast())
            let third = try await scraper.run(.once)
            XCTAssertEqual(third.progress.entries, 3)
            XCTAssertEqual(third.moved, [base + "/old": base + "/new"])
            entries = try await Self.recordedEntries(client)
            XCTAssertEqual(Set(entries.map(\.id)).count, entries.count)
            XCTAssertEqual(entries.count, first.progress.entries + 3)
            let fourth = try await scraper.run(.once)
            XCTAssertEqual(fourth.progress.entries, 0)
            XCTAssertEqual(site.hits["/old"], 3, "once moved, the old URL is not asked again")
            XCTAssertEqual(site.hits["/temporary"], 4, "a 302 is never adopted")

            store.close()
            client.close()
            await system.stop()
            await server.stop()
        }
    }

    /// The scraper killed after its polls were recorded but before it wrote their state: the
    /// state file as it was before the pass, the same journals. The next pass submits the same
    /// polls (dedup keys), takes their recorded outcomes, fetches and records nothing again.
    func testARestartWithTheStateOfBeforeAPassTakesTheRecordedPollsAndFetchesNothing() throws {
        let directory = NSTemporaryDirectory() + "evy-feeds-resume-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let site = FeedSite()
            for n in 0..<30 { site.feeds["/f/\(n)"] = (1, (0..<5).map { "f\(n)-e\($0)" }) }
            site.delay = .milliseconds(20)
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration, handler: site.handler)
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { try await server.serve(listener) }
            let base = "http://127.0.0.1:\(listener.localAddress!.port)"
            let statePath = directory + "/feeds.sqlite3"
            let system = try EmbeddedSystem(directory: directory, workers: 2, slots: 20, heartbeat: .milliseconds(100)) {
                FeedPoller(timeout: .seconds(5)).register(on: $0)
            }
            let client = try system.client()
            let store = try FeedStateStore(path: statePath)
            try store.add((0..<30).map { OPML.Outline(url: base + "/f/\($0)") })
            store.close()
            // The state before the pass, copied aside (no WAL left behind once closed).
            try FileManager.default.copyItem(atPath: statePath, toPath: statePath + ".before")

            let running = try FeedStateStore(path: statePath)
            let scraper = FeedScraper(client: client, store: running)
            scraper.perHost = 3
            let first = try await scraper.run(.once)
            XCTAssertEqual(first.progress.entries, 150)
            XCTAssertLessThanOrEqual(site.mostInProgress, 3, "at most 3 polls of the host at once, across both workers")
            XCTAssertEqual(site.mostInProgress, 3, "and the cap is used")
            running.close()
            let hitsAfterFirst = site.hits

            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: statePath + suffix) }
            try FileManager.default.moveItem(atPath: statePath + ".before", toPath: statePath)
            let restarted = try FeedStateStore(path: statePath)
            let again = try await FeedScraper(client: client, store: restarted).run(.once)
            XCTAssertEqual(again.progress.polls, 30)
            XCTAssertEqual(again.progress.entries, 150, "the recorded polls' outcomes, taken again")
            XCTAssertEqual(site.hits, hitsAfterFirst, "nothing fetched again")
            let entries = try await Self.recordedEntries(client)
            XCTAssertEqual(entries.count, 150, "each entry recorded once")
            // The state is now as after the pass: the next pass is conditional.
            let next = try await FeedScraper(client: client, store: restarted).run(.once)
            XCTAssertEqual(next.progress.notModified, 30)
            restarted.close()
            client.close()
            await system.stop()
            await server.stop()
        }
    }

    /// `.forever` on a schedule of milliseconds: every feed is polled again and again when due,
    /// conditionally once its validators are known, and a failing feed is backed off and polled
    /// on, never dropped; no entry is recorded twice however many polls there are.
    func testForeverPollsEachFeedWhenDueAndNeverDropsAFailingOne() throws {
        let directory = NSTemporaryDirectory() + "evy-feeds-forever-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let site = FeedSite()
            for n in 0..<3 { site.feeds["/f/\(n)"] = (1, (0..<5).map { "f\(n)-e\($0)" }) }
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration, handler: site.handler)
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { try await server.serve(listener) }
            let base = "http://127.0.0.1:\(listener.localAddress!.port)"
            let system = try EmbeddedSystem(directory: directory, workers: 2, slots: 4, heartbeat: .milliseconds(100)) {
                FeedPoller(timeout: .seconds(5)).register(on: $0)
            }
            let client = try system.client()
            let store = try FeedStateStore(path: directory + "/feeds.sqlite3")
            try store.add(["/f/0", "/f/1", "/f/2", "/error"].map { OPML.Outline(url: base + $0) })
            var schedule = PollSchedule()
            schedule.minInterval = .milliseconds(50)
            schedule.maxInterval = .milliseconds(150)
            schedule.maxErrorInterval = .milliseconds(200)
            let scraper = FeedScraper(client: client, store: store, schedule: schedule)
            let running = spawn { try await scraper.run(.forever) }
            try await waitUntil("every feed polled four times", timeout: .seconds(20)) {
                ["/f/0", "/f/1", "/f/2", "/error"].allSatisfy { site.hits[$0, default: 0] >= 4 }
            }
            running.cancel()
            _ = try? await running.wait()

            for n in 0..<3 {
                XCTAssertGreaterThanOrEqual(site.conditionalHits["/f/\(n)", default: 0], 3, "polls after the first are 304s")
            }
            let states = Dictionary(uniqueKeysWithValues: try store.all().map { ($0.feed, $0) })
            let failing = try XCTUnwrap(states[base + "/error"])
            XCTAssertEqual(failing.status, .active, "never dropped")
            XCTAssertGreaterThanOrEqual(failing.errors, 3)
            XCTAssertEqual(failing.lastError, "HTTP 500")
            XCTAssertEqual(failing.nextPoll - failing.lastPoll, 0.2, accuracy: 0.001, "backed off to the maximum")
            let entries = try await Self.recordedEntries(client)
            XCTAssertEqual(entries.count, 15, "each entry once, however many polls")
            store.close()
            client.close()
            await system.stop()
            await server.stop()
        }
    }
}
