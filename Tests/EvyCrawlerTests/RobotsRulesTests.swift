import EvyCrawler
import XCTest

/// robots.txt answers as RFC 9309 reads them.
final class RobotsRulesTests: XCTestCase {
    private let agent = "evy-crawler/1.0"

    func testAFilesRulesApplyAndItsCrawlDelayIsCapped() {
        let rules = RobotsRules(
            status: 200, body: Array("User-agent: *\nDisallow: /private\nCrawl-delay: 3600\n".utf8), userAgent: agent)
        XCTAssertFalse(rules.allows("/private/x"))
        XCTAssertTrue(rules.allows("/public?q=1"))
        XCTAssertEqual(rules.crawlDelay, RobotsRules.maxCrawlDelay, "an hour's Crawl-delay is capped")
        XCTAssertEqual(rules.keptFor, .seconds(24 * 3600))
    }

    func testStatusCodesMeanWhatRFC9309Says() {
        for status in [403, 404, 410] {
            XCTAssertTrue(RobotsRules(status: status, body: Array("Disallow: /".utf8), userAgent: agent).allows("/x"), "\(status): allow all")
        }
        for rules in [RobotsRules(status: 503, body: [], userAgent: agent), RobotsRules(unreachableFor: agent)] {
            XCTAssertFalse(rules.allows("/"), "5xx or no answer: disallow all")
            XCTAssertTrue(rules.unreachable)
            XCTAssertEqual(rules.keptFor, .seconds(300), "asked again after five minutes")
        }
    }
}
