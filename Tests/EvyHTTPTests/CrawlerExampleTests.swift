import Evy
import EvyHTTP
import EvyTestSupport
import Foundation
import XCTest

/// A small generated site with traps: a redirect loop, a 404, a slow page, a huge page, a non-UTF-8
/// page, malformed HTML and links off the site.
func startTestSite() throws -> (HTTPServer, Int) {
    let (server, address) = try startServer { request, _ in
        func page(_ links: [String], _ extra: String = "") -> HTTPResponse {
            .init(
                headers: [("Content-Type", "text/html")],
                body: Array(("<html><body>" + links.map { "<a href=\"\($0)\">\($0)</a>" }.joined() + extra).utf8))
        }
        switch request.path {
        case "/": return page(["/a", "/b", "http://elsewhere.invalid/x", "/loop", "/missing", "/slow"])
        case "/a": return HTTPResponse(body: Array("<a href='/b'>b</a><a href='/c#frag'>c</a> caf".utf8) + [0xE9])
        case "/b": return page(["/a", "/d"], "<p><div><unclosed")
        case "/c": return page(["/"])
        case "/d": return page(["/e"], String(repeating: "<p>filler</p>", count: 20_000))
        case "/e": return page([])
        case "/loop": return HTTPResponse(status: 302, headers: [("Location", "/loop2")])
        case "/loop2": return HTTPResponse(status: 302, headers: [("Location", "/loop")])
        case "/slow":
            try await sleep(for: .milliseconds(300))
            return page(["/e"])
        case "/feed1.xml":
            return HTTPResponse(
                body: Array("<rss version=\"2.0\"><channel><title>Feed One</title></channel></rss>".utf8))
        case "/feed2.xml":
            return HTTPResponse(
                body: Array("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Feed Two</title></feed>".utf8))
        default: return .text("not found", status: 404)
        }
    }
    return (server, address.port)
}

final class CrawlerExampleTests: XCTestCase {
    private static func run(_ example: String, _ arguments: [String]) async throws -> String {
        let (status, output, errors) = try await ChildProcess.run(
            [exampleBinary(example)] + arguments, timeout: .seconds(40))
        XCTAssertEqual(status, .exited(0), String(decoding: errors, as: UTF8.self))
        return String(decoding: output, as: UTF8.self)
    }

    func testRecursiveAndProducerConsumerCrawlersStayOnTheSiteAndSurviveTraps() throws {
        try green {
            let (server, port) = try startTestSite()
            let base = "http://127.0.0.1:\(port)"
            let expected = ["/", "/a", "/b", "/c", "/d", "/e", "/loop", "/missing", "/slow"].map { base + $0 }
            for example in ["recursive-crawler", "producer-consumer-crawler"] {
                let output = try await Self.run(example, [base + "/"])
                let seen = output.components(separatedBy: "I saw these urls:\n").last!
                    .split(separator: "\n").map(String.init)
                XCTAssertEqual(seen, expected, example)
            }
            await server.stop()
        }
    }

    func testWebCrawlerAndFeedScraper() throws {
        try green {
            let (server, port) = try startTestSite()
            let base = "http://127.0.0.1:\(port)"
            let crawl = try await Self.run("web-crawler", [base + "/a", base + "/d", base + "/missing"])
            XCTAssertTrue(crawl.contains("got body from \(base)/d of length"), crawl)
            XCTAssertEqual(crawl.split(separator: "\n").filter { $0.hasPrefix("got body") }.count, 3)

            let scraper = try ChildProcess(
                [
                    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
                        .deletingLastPathComponent().appendingPathComponent("example-feed-scraper").path, "0",
                ],
                standardInput: .discard)
            let banner = try await scraper.standardOutput!.buffered().readLine(timeout: .seconds(20)) ?? ""
            let scraperPort = Int(banner.split(separator: " ").last ?? "") ?? 0
            let client = HTTPClient()
            let titles = try await client.request(
                "POST", "http://127.0.0.1:\(scraperPort)/",
                body: Array("\(base)/feed1.xml\n\(base)/feed2.xml\n\(base)/missing\n".utf8))
            XCTAssertEqual(titles.text, "Feed One\nFeed Two\n")
            let refused = try await client.get("http://127.0.0.1:\(scraperPort)/")
            XCTAssertEqual(refused.status, 403)
            try scraper.kill()
            _ = try await scraper.wait(timeout: .seconds(5))
            await server.stop()
        }
    }
}
