import Evy
import EvyCrawler
import EvyTestSupport
import Foundation
import XCTest

/// robots.txt per host (RFC 9309): fetched once, the status codes' meanings, expiry, Crawl-delay.
final class RobotsCacheTests: XCTestCase {
    /// A fetch answering from `answers` (origin → status and text), counting its calls.
    private static func server(_ answers: [String: (Int, String)], delay: Duration = .zero, calls: Box<Int>)
        -> RobotsCache.Fetch
    {
        { url in
            calls.value += 1
            if delay > .zero { try await sleep(for: delay) }
            let origin = "\(url.scheme!)://\(url.host!)"
            guard let (status, text) = answers[origin] else { throw URLError(.cannotConnectToHost) }
            return (status, Array(text.utf8))
        }
    }

    func testAFileIsFetchedOnceForConcurrentQuestionsAndItsRulesApply() throws {
        try green {
            let calls = Box(0)
            let robots = RobotsCache(
                userAgent: "evy-crawler/1.0",
                fetch: Self.server(
                    ["http://a.example": (200, "User-agent: *\nDisallow: /private\nCrawl-delay: 2\n")],
                    delay: .milliseconds(20), calls: calls))
            let askers = (0..<5).map { _ in spawn { try await robots.rules(for: "http://a.example") } }
            for asker in askers {
                let rules = try await asker.wait()
                XCTAssertFalse(rules.allows("/private/x"))
                XCTAssertTrue(rules.allows("/public"))
                XCTAssertEqual(rules.crawlDelay, .seconds(2))
            }
            _ = try await robots.rules(for: "http://a.example")
            XCTAssertEqual(calls.value, 1, "one fetch for six questions")
        }
    }

    func testStatusCodesMeanWhatRFC9309Says() throws {
        try green {
            let calls = Box(0)
            let robots = RobotsCache(
                userAgent: "evy-crawler/1.0",
                fetch: Self.server(
                    [
                        "http://forbidden.example": (403, "Disallow: /"), "http://missing.example": (404, ""),
                        "http://broken.example": (503, ""),
                    ], calls: calls))
            let forbidden = try await robots.rules(for: "http://forbidden.example")
            XCTAssertTrue(forbidden.allows("/anything"), "403: unavailable, everything allowed")
            let missing = try await robots.rules(for: "http://missing.example")
            XCTAssertTrue(missing.allows("/anything"), "404: unavailable, everything allowed")
            let broken = try await robots.rules(for: "http://broken.example")
            XCTAssertFalse(broken.allows("/"), "5xx: unreachable, everything disallowed")
            let silent = try await robots.rules(for: "http://silent.example")
            XCTAssertFalse(silent.allows("/"), "no answer: unreachable")
        }
    }

    func testAnUnreachableHostIsAskedAgainAfterAWhileAndCrawlDelayIsCapped() throws {
        try green {
            let calls = Box(0)
            let answers = Box<[String: (Int, String)]>(["http://late.example": (500, "")])
            let now = Box(ContinuousClock.now)
            let robots = RobotsCache(
                userAgent: "evy-crawler/1.0", retryAfterFailure: .seconds(300), maxCrawlDelay: .seconds(5),
                clock: { now.value },
                fetch: { url in
                    calls.value += 1
                    return answers.value["http://\(url.host!)"].map { ($0.0, Array($0.1.utf8)) } ?? (404, [])
                })
            let first = try await robots.rules(for: "http://late.example")
            XCTAssertFalse(first.allows("/"))
            answers.value["http://late.example"] = (200, "User-agent: *\nCrawl-delay: 3600\n")
            let cached = try await robots.rules(for: "http://late.example")
            XCTAssertFalse(cached.allows("/"), "still disallowed within the retry delay")
            now.value += .seconds(301)  // past the retry delay
            let later = try await robots.rules(for: "http://late.example")
            XCTAssertTrue(later.allows("/"), "asked again once the delay passed")
            XCTAssertEqual(later.crawlDelay, .seconds(5), "an hour's Crawl-delay is capped")
            XCTAssertEqual(calls.value, 2)
        }
    }
}
