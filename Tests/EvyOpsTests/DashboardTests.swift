import Evy
import EvyCrawl
import EvyFeeds
import EvyHTTP
import EvyJobs
import EvyOps
import EvyTestSupport
import Foundation
import XCTest

/// The collector's dashboard: its page and assets served offline, its snapshot following the
/// system, its actions (cancel, dead letters) guarded, its WebSocket pushing, and a real browser
/// drawing it.
final class DashboardTests: XCTestCase {
    func testPageAndAssetsAreServedWithNothingFromOutside() throws {
        try withOps(workers: 0) { ops in
            let page = try await ops.http.get(ops.collectorURL + "/")
            XCTAssertEqual(page.status, 200)
            XCTAssertTrue(page.text.contains(#"<script src="/dashboard.js"></script>"#))
            XCTAssertFalse(page.text.contains("http://") || page.text.contains("https://"), "no CDN, nothing fetched from elsewhere")
            XCTAssertEqual(page.header("Content-Security-Policy")?.hasPrefix("default-src 'self'"), true)
            for (path, type) in [("/dashboard.js", "text/javascript"), ("/dashboard.css", "text/css")] {
                let asset = try await ops.http.get(ops.collectorURL + path)
                XCTAssertEqual(asset.status, 200, path)
                XCTAssertEqual(asset.header("Content-Type")?.hasPrefix(type), true, path)
                XCTAssertFalse(asset.text.contains("https://"), path)
            }
        }
    }

    func testSnapshotShowsWorkersQueuesDeadLettersAndRates() throws {
        try withOps { ops in
            try await ops.run("echo", count: 10)
            try await ops.run("fail", count: 2)
            for _ in 0..<9 { try await ops.client.submit("block") }
            try await waitUntil("eight running", timeout: .seconds(10)) { ops.system.dispatcher.counters.leased >= 8 + 12 }
            // Wait for the sampler's chart point that saw the jobs above submitted.
            var snapshot: [String: Any] = [:]
            try await waitUntilAsync("a chart point with submits", timeout: .seconds(5)) {
                snapshot = try json(await ops.dashboard.snapshot())
                return ((snapshot["history"] as? [[Double]]) ?? []).contains { $0.count == 4 && $0[1] > 0 }
            }
            let dispatcher = try XCTUnwrap(snapshot["dispatcher"] as? [String: Any])
            XCTAssertEqual(dispatcher["submitted"] as? Int, 21)
            let workers = try XCTUnwrap(dispatcher["workers"] as? [[String: Any]])
            XCTAssertEqual(workers.count, 2)
            XCTAssertEqual(workers.map { $0["inFlight"] as? Int ?? 0 }, [4, 4])
            XCTAssertTrue(workers.allSatisfy { $0["host"] as? String == ProcessInfo.processInfo.hostName })
            let queues = try XCTUnwrap(dispatcher["queues"] as? [[String: Any]])
            XCTAssertEqual(queues.first?["handler"] as? String, "block")
            XCTAssertEqual(queues.first?["depth"] as? Int, 1)
            XCTAssertEqual((snapshot["dead"] as? [Any])?.count, 2)
            XCTAssertEqual((snapshot["active"] as? [Any])?.count, 8)
            let collector = try XCTUnwrap(snapshot["collector"] as? [String: Any])
            XCTAssertEqual((collector["handlers"] as? [String: [String: Int]])?["echo"]?["succeeded"], 10)
            let history = try XCTUnwrap(snapshot["history"] as? [[Double]])
            XCTAssertFalse(history.isEmpty)
            XCTAssertTrue(history.allSatisfy { $0.count == 4 })
            XCTAssertGreaterThan(history.map { $0[1] }.max() ?? 0, 0, "some point saw jobs submitted")
            XCTAssertTrue(snapshot["crawl"] is NSNull, "no crawl ran")
            XCTAssertTrue(snapshot["feeds"] is NSNull, "no feed state given")
        }
    }

    func testActionsCancelAndRetryDeadLettersOnlyWithTheActionHeader() throws {
        try withOps(workers: 1) { ops in
            try await ops.run("fail", count: 2)
            let blocked = try await ops.client.submit("block")
            try await waitUntil("the block job running", timeout: .seconds(10)) { ops.system.dispatcher.counters.leased == 3 }

            let forged = try await ops.http.request("POST", ops.collectorURL + "/api/dead/retry")
            XCTAssertEqual(forged.status, 403, "a page elsewhere cannot send the header without a preflight")
            XCTAssertEqual(ops.system.dispatcher.counters.dead, 2)

            let header: HTTPHeaders = [("X-Evy-Action", "1")]
            let cancel = try await ops.http.request("POST", ops.collectorURL + "/api/jobs/\(blocked)/cancel", headers: header)
            XCTAssertEqual(cancel.status, 200)
            XCTAssertEqual(try json(cancel.body)["outcome"] as? String, "aborting")
            let outcome = try await ops.client.outcomes(of: [blocked]).collect()
            XCTAssertEqual(outcome.map(\.status), [.cancelled])

            let retry = try await ops.http.request("POST", ops.collectorURL + "/api/dead/retry", headers: header)
            XCTAssertEqual(try json(retry.body)["count"] as? Int, 2)
            try await waitUntil("both retried and dead again", timeout: .seconds(10)) { ops.system.dispatcher.counters.dead == 4 }

            let bad = try await ops.http.request("POST", ops.collectorURL + "/api/jobs/abc/cancel", headers: header)
            XCTAssertEqual(bad.status, 400)
            let unknown = try await ops.http.request("POST", ops.collectorURL + "/api/reboot", headers: header)
            XCTAssertEqual(unknown.status, 404)
        }
    }

    /// DNS rebinding (a foreign name in Host), a page of another origin opening the WebSocket or
    /// posting, and a `job=` that is not a job id are all refused, and nothing is touched.
    func testForeignHostsOriginsAndBadJobIDsAreRefused() throws {
        try withOps(workers: 1) { ops in
            try await ops.run("fail", count: 2)
            let action: HTTPHeaders = [("X-Evy-Action", "1")]
            /// The status line of a request sent by hand with `host` in its Host header.
            func status(host: String) async throws -> String {
                let socket = try await connect(to: ops.collectorHTTP.boundAddress.address)
                defer { socket.close() }
                try await socket.sendAll("GET /api/snapshot HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
                let head = try await socket.buffered().readLine(timeout: .seconds(5)) ?? ""
                return head.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let rebound = try await status(host: "attacker.example:9101")
            XCTAssertTrue(rebound.hasPrefix("HTTP/1.1 421"), rebound)
            let local = try await status(host: "localhost:1")
            XCTAssertTrue(local.hasPrefix("HTTP/1.1 200"), "localhost is this machine: \(local)")
            let crossOrigin = try await ops.http.request(
                "POST", ops.collectorURL + "/api/dead/purge", headers: action + [("Origin", "http://attacker.example")])
            XCTAssertEqual(crossOrigin.status, 403)
            do {
                _ = try await WebSocket.connect(
                    to: "ws://\(ops.collectorHTTP.boundAddress)/ws", origin: "http://attacker.example")
                XCTFail("a foreign origin's WebSocket is refused")
            } catch {}
            for bad in ["job=", "job=12x", "job=0", "job=99999999999999999999999"] {
                let purge = try await ops.http.request("POST", ops.collectorURL + "/api/dead/purge?\(bad)", headers: action)
                XCTAssertEqual(purge.status, 400, bad)
            }
            let dead = try json(try await ops.client.query("status"))["dead"] as? Int
            XCTAssertEqual(dead, 2)
            let listed = try JSONSerialization.jsonObject(with: Data(try await ops.client.query("dead"))) as? [Any]
            XCTAssertEqual(listed?.count, 2, "no dead letter was purged")
            let sameOrigin = try await ops.http.request(
                "POST", ops.collectorURL + "/api/dead/purge",
                headers: action + [("Origin", "http://\(ops.collectorHTTP.boundAddress)")])
            XCTAssertEqual(try json(sameOrigin.body)["count"] as? Int, 2, "the page's own origin may act")
        }
    }

    func testAReadOnlyDashboardRefusesActions() throws {
        try withOps(workers: 1) { ops in
            try await ops.run("fail", count: 1)
            var board = Dashboard.Configuration(dispatcher: ops.system.dispatcher.boundClientEndpoint)
            board.allowActions = false
            let readOnly = Dashboard(collector: ops.system.collector, configuration: board)
            let server = try OpsServer(address: ListenAddress("127.0.0.1:0"), metrics: nil, dashboard: readOnly)
            let serving = spawn { try? await server.run() }
            defer {
                serving.cancel()
                readOnly.close()
            }
            let response = try await ops.http.request(
                "POST", "http://\(server.boundAddress)/api/dead/retry", headers: [("X-Evy-Action", "1")])
            XCTAssertEqual(response.status, 403)
            XCTAssertTrue(response.text.contains("actions are off"), response.text)
            let snapshot = try await ops.http.get("http://\(server.boundAddress)/api/snapshot")
            XCTAssertEqual(snapshot.status, 200, "reading still works")
            await server.stop()
            XCTAssertEqual(ops.system.dispatcher.counters.dead, 1)
        }
    }

    func testTheWebSocketPushesSnapshotsThatMoveWithTheJobs() throws {
        try withOps(workers: 1) { ops in
            let socket = try await WebSocket.connect(to: "ws://\(ops.collectorHTTP.boundAddress)/ws")
            func submitted() async throws -> Int {
                guard case .text(let text) = try await socket.receive(timeout: .seconds(5)) else { throw CancellationError() }
                let dispatcher = try json(Array(text.utf8))["dispatcher"] as? [String: Any]
                return dispatcher?["submitted"] as? Int ?? -1
            }
            let before = try await submitted()
            try await ops.run("echo", count: 5)
            var after = try await submitted()
            // A snapshot built before the submits may still be on its way.
            if after == before { after = try await submitted() }
            XCTAssertEqual(after, before + 5)
            await socket.close()
        }
    }

    func testFailingFeedsAndTheCrawlAppear() throws {
        let state = NSTemporaryDirectory() + "evy-ops-feeds-\(UUID().uuidString).sqlite3"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let store = try FeedStateStore(path: state)
        _ = try store.add([
            OPML.Outline(url: "http://198.51.100.1/good.xml", title: "Good"),
            OPML.Outline(url: "http://198.51.100.1/broken.xml", title: "Broken"),
        ])
        var feeds = try store.all()
        let broken = try XCTUnwrap(feeds.firstIndex { $0.title == "Broken" })
        feeds[broken].errors = 3
        feeds[broken].lastError = "HTTP 500"
        try store.save(feeds)
        store.close()
        try withOps(workers: 1, feedsState: state) { ops in
            let fetch = "crawl.fetch"
            ops.system.workers[0].handle(fetch) { job in
                if job.text == "bad" { throw JobFailure("HTTP 404", retryable: false) }
                return job.payload
            }
            var jobs: [UInt64] = []
            for payload in ["a", "b", "bad"] { jobs.append(try await ops.client.submit(fetch, payload: Array(payload.utf8))) }
            _ = try await ops.client.outcomes(of: jobs).collect()
            // Snapshots are built at most once per half refresh: wait for one after the outcomes.
            var snapshot: [String: Any] = [:]
            try await waitUntilAsync("a snapshot with the crawl's pages", timeout: .seconds(5)) {
                snapshot = try json(await ops.dashboard.snapshot())
                return (snapshot["crawl"] as? [String: Int])?["done"] == 2
            }
            let crawl = try XCTUnwrap(snapshot["crawl"] as? [String: Int])
            XCTAssertEqual(crawl["done"], 2)
            XCTAssertEqual(crawl["errors"], 1)
            let panel = try XCTUnwrap(snapshot["feeds"] as? [String: Any])
            XCTAssertEqual(panel["total"] as? Int, 2)
            let failing = try XCTUnwrap(panel["failing"] as? [[String: Any]])
            XCTAssertEqual(failing.map { $0["title"] as? String }, ["Broken"])
            XCTAssertEqual(failing.first?["lastError"] as? String, "HTTP 500")
        }
    }

    /// Debian's headless Chromium loads the page: it goes live, the totals it shows move while
    /// jobs run, and its screenshot has the chart's lines drawn.
    func testHeadlessChromiumDrawsTheDashboard() throws {
        guard
            let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return XCTFail("chromium is not installed: scripts/setup (run by scripts/test) installs it") }
        let profile = NSTemporaryDirectory() + "evy-ops-chromium-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try withOps(workers: 2, deadline: .seconds(180)) { ops in
            let url = ops.collectorURL + "/"
            /// Runs Chromium on the page (the hub keeps serving while it runs) and returns its output.
            func browse(_ arguments: [String]) async throws -> [UInt8] {
                let browser = try ChildProcess(
                    [
                        chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=\(profile)",
                        "--window-size=1280,900", "--virtual-time-budget=3000",
                    ] + arguments + [url],
                    standardInput: .discard, standardOutput: .pipe, standardError: .discard)
                defer { try? browser.kill(SIGKILL) }
                return try await browser.communicate(timeout: .seconds(90)).output
            }
            /// The "submitted" total the page shows, from its DOM.
            func shownSubmitted() async throws -> Int? {
                let dom = String(decoding: try await browse(["--dump-dom"]), as: UTF8.self)
                XCTAssertTrue(dom.contains(#"<span id="connection" class="good">live</span>"#), "the page's WebSocket is live")
                guard let range = dom.range(of: "<td>submitted</td><td class=\"num\">") else { return nil }
                return Int(dom[range.upperBound...].prefix { $0.isNumber })
            }
            try await ops.run("echo", count: 30)
            let first = try await shownSubmitted()
            XCTAssertEqual(first, 30)
            // Jobs keep coming while the browser looks again, for a few samples of the chart.
            let feeder = spawn {
                for _ in 0..<8 {
                    _ = try? await ops.run("echo", count: 10)
                    try? await sleep(for: .milliseconds(100))
                }
            }
            _ = try await feeder.wait()
            let second = try await shownSubmitted()
            XCTAssertEqual(second, 110, "the numbers moved with the jobs")

            let shot = profile + "/shot.png"
            _ = try await browse(["--screenshot=\(shot)"])
            let image = try PNGImage(Array(try Data(contentsOf: URL(fileURLWithPath: shot))))
            XCTAssertEqual(image.width, 1280)
            // The chart's canvas sits in the top part of the page: its blue (submitted) and green
            // (done) lines must be there, not a blank canvas.
            let rows = 60..<420, columns = 0..<1280
            let blue = image.count(near: (0x2f, 0x6f, 0xde), in: rows, columns: columns)
            let green = image.count(near: (0x1f, 0x9d, 0x55), in: rows, columns: columns)
            XCTAssertGreaterThan(blue, 40, "the submitted line is drawn")
            XCTAssertGreaterThan(green, 40, "the done line is drawn")
        }
    }
}

private func json(_ bytes: [UInt8]) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
}
