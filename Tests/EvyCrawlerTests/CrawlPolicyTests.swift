import Foundation
import XCTest

@testable import EvyCrawler

/// Which URLs a crawl follows: scope, depth, traps, schemes; which responses it parses.
final class CrawlPolicyTests: XCTestCase {
    private let seeds = ["example.org"]

    private func admit(_ link: String, depth: Int = 1, policy: CrawlPolicy = CrawlPolicy()) -> Result<
        String, CrawlPolicy.Skip
    > {
        policy.admit(link, depth: depth, seedHosts: seeds)
    }

    func testLinksOnTheSiteAreFollowedInTheirCanonicalSpelling() {
        XCTAssertEqual(admit("HTTP://Example.ORG:80/a/./b/../c#frag"), .success("http://example.org/a/c"))
        XCTAssertEqual(admit("https://www.example.org/x"), .success("https://www.example.org/x"), "www. is the same site")
        XCTAssertEqual(admit("http://blog.example.org/"), .success("http://blog.example.org/"), "subdomains are")
    }

    func testOffSiteAndNonHTTPLinksAreSkipped() {
        XCTAssertEqual(admit("http://example.com/"), .failure(.offSite))
        XCTAssertEqual(admit("http://notexample.org/"), .failure(.offSite), "a suffix is not a subdomain")
        XCTAssertEqual(admit("mailto:someone@example.org"), .failure(.scheme))
        XCTAssertEqual(admit("javascript:alert(1)"), .failure(.scheme))
        var listed = CrawlPolicy()
        listed.scope = .hosts(["example.com"])
        XCTAssertEqual(admit("http://example.com/a", policy: listed), .success("http://example.com/a"))
        XCTAssertEqual(admit("http://example.org/a", policy: listed), .failure(.offSite), "an allow-list replaces the seeds")
    }

    func testDepthLengthAndRepeatedSegmentsStopTraps() {
        var policy = CrawlPolicy()
        policy.maxDepth = 2
        XCTAssertEqual(admit("http://example.org/a", depth: 2, policy: policy), .success("http://example.org/a"))
        XCTAssertEqual(admit("http://example.org/a", depth: 3, policy: policy), .failure(.tooDeep))
        XCTAssertEqual(admit("http://example.org/?q=" + String(repeating: "x", count: 3000)), .failure(.tooLong))
        XCTAssertEqual(admit("http://example.org/a/b/a/b/a/"), .failure(.repeatedSegment))
        XCTAssertEqual(admit("http://example.org/a/b/a/b/"), .success("http://example.org/a/b/a/b/"), "twice is fine")
    }

    func testCanonicalLinksTakeTheShortPathToTheSameVerdicts() {
        let policy = CrawlPolicy()
        for link in [
            "http://example.org/a", "https://www.example.org:8443/x?y=1", "http://example.com/", "http://example.org/a/b/a/b/a/",
            "http://example.org/?q=" + String(repeating: "x", count: 3000), "ftp://example.org/",
        ] {
            XCTAssertEqual(
                policy.admit(canonical: link, depth: 1, seedHosts: seeds), policy.admit(link, depth: 1, seedHosts: seeds),
                link)
        }
        XCTAssertEqual(
            policy.admit(canonical: "http://[::1]:8080/a", depth: 1, seedHosts: ["::1"]), .success("http://[::1]:8080/a"),
            "an IPv6 literal")
    }

    func testOnlyHTMLIsParsedForLinks() {
        let policy = CrawlPolicy()
        XCTAssertTrue(policy.parses(contentType: "text/html; charset=iso-8859-1"))
        XCTAssertTrue(policy.parses(contentType: "Application/XHTML+XML"))
        XCTAssertFalse(policy.parses(contentType: "image/png"))
        XCTAssertFalse(policy.parses(contentType: nil))
    }

    func testATaskBuiltAroundItsPolicysJSONDecodesAsTheTask() throws {
        var policy = CrawlPolicy()
        policy.maxDepth = 3
        let url = "http://example.org/a?q=\"quoted\"\\back\u{1}"
        let bytes = CrawlTask.json(crawl: "c\"1", url: url, depth: 2, policyJSON: Array(try JSONEncoder().encode(policy)))
        let task = try JSONDecoder().decode(CrawlTask.self, from: Data(bytes))
        XCTAssertEqual(task, CrawlTask(crawl: "c\"1", url: url, depth: 2, policy: policy))
    }

    func testThePolicyTravelsAsJSON() throws {
        var policy = CrawlPolicy()
        policy.scope = .hosts(["a.example", "b.example"])
        policy.maxPages = 7
        let decoded = try JSONDecoder().decode(CrawlPolicy.self, from: JSONEncoder().encode(policy))
        XCTAssertEqual(decoded, policy)
    }
}
