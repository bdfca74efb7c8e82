import EvyCrawl
import Foundation

/// A realistic feed: RSS 2.0 with `items` entries (title, link, guid, date, HTML description).
func sampleFeed(items: Int) -> [UInt8] {
    var xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Bench news</title>"
        + "<link>http://bench.example/</link><description>A feed to parse</description>"
    for i in 0..<items {
        xml +=
            "<item><title>Story number \(i) &amp; friends</title><link>http://bench.example/story/\(i)</link>"
            + "<guid>http://bench.example/story/\(i)</guid><pubDate>Mon, 23 Nov 2026 05:\(String(format: "%02d", i % 60)):00 GMT</pubDate>"
            + "<description>&lt;p&gt;Paragraph \(i) with &lt;a href=\"/x\"&gt;a link&lt;/a&gt; and some words to read.&lt;/p&gt;</description></item>"
    }
    return Array((xml + "</channel></rss>").utf8)
}

/// `evy-bench feeds`: feeds parsed per second by `Feed(data:)` and, in the same run, by Python's
/// feedparser on the same bytes (ratio = Evy / feedparser; the target is 20x).
func feedsBenchmark(seconds: Double) throws {
    let feed = sampleFeed(items: 50)
    let start = Date()
    var parsed = 0
    while Date().timeIntervalSince(start) < seconds {
        let result = Feed(data: feed)
        precondition(result.entries.count == 50 && !result.bozo, "the sample feed must parse")
        parsed += 1
    }
    let evyRate = Double(parsed) / Date().timeIntervalSince(start)

    let path = FileManager.default.temporaryDirectory.appendingPathComponent("evy-bench-feed-\(getpid()).xml")
    try Data(feed).write(to: path)
    defer { try? FileManager.default.removeItem(at: path) }
    let script = """
        import sys, time, feedparser
        data = open(sys.argv[1], 'rb').read()
        assert len(feedparser.parse(data).entries) == 50
        start = time.perf_counter(); n = 0
        while time.perf_counter() - start < float(sys.argv[2]):
            feedparser.parse(data); n += 1
        print(n / (time.perf_counter() - start))
        """
    let output = try Child.run(
        ["python3", "-c", script, path.path, String(seconds)], seconds: seconds + 60, quiet: true)
    let reference = Double(output.trimmingCharacters(in: .whitespacesAndNewlines))

    var fields: [(String, Any)] = [
        ("name", "feeds"), ("source", "evy"), ("value", evyRate), ("unit", "feeds/s"),
        ("entries_per_feed", 50), ("bytes_per_feed", feed.count),
    ]
    if let reference {
        fields.append(("ratio", evyRate / reference))
        print(json(fields))
        print(json([("name", "feeds"), ("source", "feedparser"), ("value", reference), ("unit", "feeds/s")]))
    } else {
        fields.append(("note", "feedparser unavailable (pip install feedparser) for the ratio"))
        print(json(fields))
    }
}
