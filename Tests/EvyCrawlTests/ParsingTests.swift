import Evy
import EvyCrawl
import EvyTestSupport
import Foundation
import XCTest

final class HTMLPageTests: XCTestCase {
    func testLinksAreResolvedNormalisedAndDeduplicatedInMalformedHTML() {
        let html = """
            <html><head><title>  Evy
              crawler test </title><base href="/docs/"></head>
            <body><p>unclosed <a href="page.html#section">one<a href='../top'>two
            <a href="HTTP://Example.ORG:80/x">three</a><a href="mailto:me@x">mail</a>
            <a href="page.html">dup</a><a href="https://other.example:443">other</a><div><a href="  spaced  ">s</a>
            """
        let page = HTMLPage(html: Array(html.utf8), url: URL(string: "http://example.org/start/index.html")!)
        XCTAssertEqual(page.title, "Evy crawler test")
        XCTAssertEqual(
            page.links,
            [
                "http://example.org/docs/page.html",
                "http://example.org/top",
                "http://example.org/x",
                "https://other.example/",
                "http://example.org/docs/spaced",
            ])
    }

    func testNonUTF8AndEmptyPages() {
        let latin1: [UInt8] = Array("<title>caf".utf8) + [0xE9] + Array("</title><a href=\"/a\">x</a>".utf8)
        let page = HTMLPage(html: latin1, url: URL(string: "http://example.org/")!)
        XCTAssertEqual(page.links, ["http://example.org/a"])
        XCTAssertNotNil(page.title)
        XCTAssertEqual(HTMLPage(html: [], url: URL(string: "http://example.org/")!).links, [])
    }

    /// Links are resolved on their bytes when they are plain; the answer must be Foundation's.
    func testLinksResolveExactlyAsFoundationResolvesThem() {
        let bases = [
            "http://example.org/a/b/c.html?x=1", "https://Example.ORG:443/dir/", "http://h:8080",
            "http://h/a/../b/./c", "HTTP://H.example/p?q#frag",
        ]
        let hrefs = [
            "", "#top", "?y=2", "?", "d.html", "./d", "../d", "../../../../d", "/abs", "/a/./b/../c/.",
            "/a/b/..", "//other.example/x", "http://X.example", "http://x.example:80/p",
            "https://x.example:8443/p?q=1#f",
            "HTTP://x.example/a/../b", "mailto:me@example.org", "javascript:void(0)", "ftp://x/y", "a:b",
            "d e.html", "%41bc", "/caf\u{E9}", "http://user@x.example/", "http://[::1]/v6", "http://x.example:99999/",
            "http:relative", "  /spaced  ", "dir/", ".", "..", "./", "a/b:c", "/p?x=1&y=2#z", "http://x.example?q",
            "http://x.example#f", "\u{1}/ctl", "HTTP://X.EXAMPLE:08080/p", "http://x.example:0080/p", "HTTP://Host:00",
            ".hidden/x",
            "a.b/c", "/x/.y", "?q#f", "p/q/../r?s=../t",
        ]
        for base in bases {
            let url = URL(string: base)!
            for href in hrefs {
                let escaped = href.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(
                    of: "\"", with: "&quot;")
                let page = HTMLPage(html: Array("<a href=\"\(escaped)\">x</a>".utf8), url: url)
                let trimmed = href.trimmingCharacters(in: .whitespacesAndNewlines)
                let expected = URL(string: trimmed, relativeTo: url).flatMap { HTMLPage.normalizedURL($0.absoluteURL) }
                XCTAssertEqual(page.links.first, expected, "\(href) against \(base)")
            }
        }
    }
}

final class FeedTests: XCTestCase {
    func testFeedDatesInTheFormsFeedsUse() {
        func published(_ date: String, _ element: String = "pubDate") -> Date? {
            Feed(
                data: Array(
                    "<rss version=\"2.0\"><channel><item><\(element)>\(date)</\(element)></item></channel></rss>".utf8)
            )
            .entries.first?.published
        }
        let expected = Date(timeIntervalSince1970: 1_795_410_000)  // 2026-11-23 05:00:00 UTC
        XCTAssertEqual(published("Mon, 23 Nov 2026 05:00:00 GMT"), expected)
        XCTAssertEqual(published("23 Nov 2026 05:00:00 +0000"), expected, "no weekday")
        XCTAssertEqual(published("Mon, 23 Nov 2026 00:00:00 EST"), expected, "US zone names")
        XCTAssertEqual(published("Mon, 23 Nov 2026 06:30 +0130"), expected, "no seconds, numeric offset")
        XCTAssertEqual(published("Mon, 23 Nov 26 05:00:00 GMT"), expected, "two-digit year")
        XCTAssertEqual(published("2026-11-23T06:00:00+01:00"), expected, "ISO 8601 with offset")
        XCTAssertEqual(published("2026-11-23T05:00:00.000Z"), expected, "fractional seconds")
        XCTAssertEqual(published("2026-11-23"), Date(timeIntervalSince1970: 1_795_392_000), "a day")
        let padded = Feed(
            data: Array(
                "<rss version=\"2.0\"><channel><title>\n\t Caf\u{E9} \u{A0}</title><item><title> \r\n</title></item></channel></rss>"
                    .utf8))
        XCTAssertEqual(padded.title, "Caf\u{E9}", "ASCII and Unicode whitespace around text is trimmed")
        XCTAssertNil(padded.entries.first?.title, "a title of only whitespace is no title")
        for garbage in [
            "yesterday", "Mon, 32 Nov 2026 05:00:00 GMT", "Mon, 23 Foo 2026 05:00 GMT", "23 Nov 2026 25:00",
        ] {
            XCTAssertNil(published(garbage), garbage)
        }
    }

    func testRSS20AndRSS10() {
        let rss = Feed(
            data: Array(
                """
                <?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>http://n.example/</link>
                <item><title>First</title><link>http://n.example/1</link><guid>id-1</guid>
                <pubDate>Mon, 23 Nov 2026 05:00:00 GMT</pubDate><description>one</description></item>
                <item><title>Second</title><guid>http://n.example/2</guid></item></channel></rss>
                """.utf8))
        XCTAssertEqual(rss.format, "rss20")
        XCTAssertFalse(rss.bozo)
        XCTAssertEqual(rss.title, "News")
        XCTAssertEqual(rss.entries.map(\.title), ["First", "Second"])
        XCTAssertEqual(rss.entries[0].id, "id-1")
        XCTAssertEqual(rss.entries[1].link, "http://n.example/2", "a permalink guid stands in for the link")
        XCTAssertEqual(rss.entries[0].published, Date(timeIntervalSince1970: 1_795_410_000))
        let rdf = Feed(
            data: Array(
                """
                <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
                  xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>RDF</title><link>http://r.example/</link></channel>
                <item rdf:about="http://r.example/a"><title>A</title><link>http://r.example/a</link><dc:date>2026-11-23T05:00:00Z</dc:date></item>
                </rdf:RDF>
                """.utf8))
        XCTAssertEqual(rdf.format, "rss10")
        XCTAssertEqual(rdf.entries.first?.id, "http://r.example/a")
        XCTAssertEqual(rdf.entries.first?.published, Date(timeIntervalSince1970: 1_795_410_000))
    }

    func testAtomAndJSONFeed() {
        let atom = Feed(
            data: Array(
                """
                <feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title><link rel="self" href="http://a.example/feed"/>
                <link href="http://a.example/"/><entry><title>E</title><link href="http://a.example/e"/><id>urn:e</id>
                <published>2026-11-23T05:00:00.000Z</published><summary>s</summary></entry></feed>
                """.utf8))
        XCTAssertEqual(atom.format, "atom10")
        XCTAssertEqual(atom.link, "http://a.example/")
        XCTAssertEqual(
            atom.entries.first,
            FeedEntry(
                title: "E", link: "http://a.example/e", id: "urn:e",
                published: Date(timeIntervalSince1970: 1_795_410_000), summary: "s"))
        let atom03 = Feed(
            data: Array("<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><title>Old</title></feed>".utf8))
        XCTAssertEqual(atom03.format, "atom03")
        let json = Feed(
            data: Array(
                """
                {"version": "https://jsonfeed.org/version/1.1", "title": "J", "home_page_url": "http://j.example/",
                 "items": [{"id": "1", "url": "http://j.example/1", "title": "One", "content_text": "t",
                            "date_published": "2026-11-23T05:00:00Z"}]}
                """.utf8))
        XCTAssertEqual(json.format, "json11")
        XCTAssertEqual(json.entries.first?.summary, "t")
    }

    func testBrokenFeedsAreBozoNotErrors() {
        let truncated = Feed(data: Array("<rss version=\"2.0\"><channel><title>Cut</title><item><title>Half".utf8))
        XCTAssertTrue(truncated.bozo)
        XCTAssertNotNil(truncated.bozoReason)
        XCTAssertEqual(truncated.title, "Cut", "as much as could be read")
        let html = Feed(data: Array("<html><body>not a feed</body></html>".utf8))
        XCTAssertTrue(html.bozo)
        let garbage = Feed(data: [0xFF, 0x00, 0x13, 0x37])
        XCTAssertTrue(garbage.bozo)
        XCTAssertTrue(Feed(data: Array("{ not json".utf8)).bozo)
    }
}

final class RobotsTests: XCTestCase {
    func testGroupsLongestMatchWildcardsAndDelay() {
        let robots = RobotsTxt(
            text: """
                User-agent: *
                Disallow: /private/
                Allow: /private/public-*.html$
                Crawl-delay: 2

                User-agent: evy-crawler
                Disallow: /no-evy
                """)
        XCTAssertFalse(robots.allows("/private/x", userAgent: "SomeBot"))
        XCTAssertTrue(robots.allows("/private/public-1.html", userAgent: "SomeBot"))
        XCTAssertFalse(robots.allows("/private/public-1.html?x", userAgent: "SomeBot"))
        XCTAssertTrue(robots.allows("/private/x", userAgent: "evy-crawler/1.0"), "its own group applies")
        XCTAssertFalse(robots.allows("/no-evy/page", userAgent: "evy-crawler/1.0"))
        XCTAssertEqual(robots.crawlDelay(for: "SomeBot"), .seconds(2))
        XCTAssertTrue(RobotsTxt(text: "").allows("/anything", userAgent: "x"))
    }

    func testWhatRFC9309AsksAndHostileFilesCannotBreak() {
        let robots = RobotsTxt(
            text: "\u{FEFF}User-agent: evy\nDisallow: /a\n\nUser-agent: other\nDisallow: /\n\n"
                + "User-agent: EVY\nDisallow: /b\nCrawl-delay: inf\n\nUser-agent: *\nDisallow: /*.gif$\nCrawl-delay: 1e17\n"
        )
        // Both groups for the product token apply (merged), the BOM did not hide the first one.
        XCTAssertFalse(robots.allows("/a/x", userAgent: "Evy/2.0"))
        XCTAssertFalse(robots.allows("/b/x", userAgent: "evy"))
        XCTAssertTrue(robots.allows("/c", userAgent: "evy"))
        // `e` is not a prefix match for `evy`, nor `other` for `otherbot`.
        XCTAssertTrue(robots.allows("/anything", userAgent: "otherbot"), "falls to *, which allows it")
        // `*` then `$`: the end must match, wherever the first `.gif` is.
        XCTAssertFalse(robots.allows("/a.gif/b.gif", userAgent: "someone"))
        XCTAssertTrue(robots.allows("/a.gif/b.png", userAgent: "someone"))
        // Nonsense delays are ignored or capped, never a crash.
        XCTAssertNil(robots.crawlDelay(for: "evy"))
        XCTAssertEqual(robots.crawlDelay(for: "someone"), .seconds(86_400))
        XCTAssertTrue(
            RobotsTxt(text: "Disallow: /\nUser-agent: *\nAllow: /").allows("/x", userAgent: "a"),
            "rules before any User-agent belong to no group")
    }

    func testPolitenessSpacesRequestsToOneHost() throws {
        let order = Box<[String]>([])
        let sameHost: Duration = try green {
            let polite = HostPoliteness(delay: .milliseconds(50))
            let start = ContinuousClock.now
            // Another host is not held up: its visit starts while a.example waits its turn.
            let other: GreenThread<Void> = spawn {
                try await polite.visit("b.example") { order.value.append("b") }
            }
            for _ in 0..<3 {
                try await polite.visit("a.example") { order.value.append("a") }
            }
            try await other.wait()
            return start.duration(to: .now)
        }
        XCTAssertGreaterThanOrEqual(sameHost, .milliseconds(100), "three visits, two delays")
        XCTAssertEqual(order.value, ["a", "b", "a", "a"])
    }
}
