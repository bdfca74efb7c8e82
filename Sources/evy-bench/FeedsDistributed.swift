import Evy
import EvyCrawl
import EvyFeeds
import EvyJobs
import Foundation

/// An RSS 2.0 feed of `items` entries, unique to feed `number` (ids, links, titles).
private func benchFeed(number: Int, items: Int) -> String {
    var xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Feed \(number)</title>"
        + "<link>http://bench.example/\(number)/</link><description>Bench feed \(number)</description><ttl>60</ttl>"
    for i in 0..<items {
        xml +=
            "<item><title>Story \(number)-\(i) &amp; friends</title><link>http://bench.example/\(number)/story/\(i)</link>"
            + "<guid>http://bench.example/\(number)/story/\(i)</guid>"
            + "<pubDate>Mon, 30 Nov 2026 \(String(format: "%02d", i % 24)):\(String(format: "%02d", i % 60)):00 GMT</pubDate>"
            + "<description>&lt;p&gt;Paragraph \(i) of feed \(number), with &lt;a href=\"/x\"&gt;a link&lt;/a&gt; "
            + "and some words to read.&lt;/p&gt;</description></item>"
    }
    return xml + "</channel></rss>"
}

/// `evy-bench feeds-distributed`: `feeds` generated feeds (30 entries each) served by nginx, polled
/// through the job system (the real dispatcher, collector and two `feeds.poll` workers as
/// processes over tcp, the scraper in this process) in two passes: the first fetches, parses and
/// records every entry (entries/s, end to end), the second is conditional GETs answered 304 (its
/// time next to the first's). Python's feedparser polls the same feeds in the same run
/// (Benchmarks/feeds/feedparser_feeds.py, 8 threads). Best of `rounds`.
func feedsDistributedBenchmark(feeds: Int, rounds: Int = 2) throws {
    try require(["/usr/sbin/nginx"])
    let entriesPerFeed = 30
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("evy-bench-feeds-\(getpid())")
    defer { try? FileManager.default.removeItem(at: root) }
    try FileManager.default.createDirectory(at: root.appendingPathComponent("f"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: root.appendingPathComponent("tmp"), withIntermediateDirectories: true)
    for number in 0..<feeds {
        try Data(benchFeed(number: number, items: entriesPerFeed).utf8)
            .write(to: root.appendingPathComponent("f/\(number).xml"))
    }
    let nginx = try Nginx.start(root: root, cpu: 1, seconds: 600)
    defer { nginx.stop() }
    let urls = (0..<feeds).map { "http://127.0.0.1:\(nginx.port)/f/\($0).xml" }
    let list = root.appendingPathComponent("feeds.txt")
    try Data((urls.joined(separator: "\n") + "\n").utf8).write(to: list)
    let total = feeds * entriesPerFeed

    var evy: (rate: Double, first: Double, second: Double, cpu: String)?
    var reference: (rate: Double, first: Double, second: Double)?
    for _ in 0..<rounds {
        attempt("feeds-distributed", source: "evy") {
            let system = try JobSystem(workers: 2, handlers: FeedPoller.handlerName)
            defer { system.stop() }
            let statePath = system.directory.appendingPathComponent("feeds.sqlite3").path
            let roles = [("dispatcher", system.dispatcher.pid), ("collector", system.collector!.pid)]
                + system.workers.enumerated().map { ("worker\($0.offset)", $0.element.pid) } + [("scraper", getpid())]
            let cpuBefore = Readings()
            let (first, second) = try system.withClient { client in
                let store = try FeedStateStore(path: statePath)
                defer { store.close() }
                try store.add(urls.map { OPML.Outline(url: $0) })
                let scraper = FeedScraper(client: client, store: store)
                scraper.perHost = 200  // every feed is on one host here: nginx on loopback
                let first = try await scraper.run(.once)
                cpuBefore.value = try roles.map { try processCPUSeconds($0.1) }
                return (first, try await scraper.run(.once))
            }
            guard first.progress.entries == total, second.progress.entries == 0, second.progress.notModified == feeds
            else {
                throw BenchmarkFailure(
                    "pass 1: \(first.progress.entries) of \(total) entries; pass 2: \(second.progress.entries) entries, "
                        + "\(second.progress.notModified) of \(feeds) not modified")
            }
            let cpu = try zip(roles, cpuBefore.value).map { role, before in
                "\(role.0) \(Int((try processCPUSeconds(role.1) - before) * 1000)) ms"
            }
            let rate = Double(total) / first.seconds
            if rate > evy?.rate ?? 0 { evy = (rate, first.seconds, second.seconds, cpu.joined(separator: ", ")) }
        }
        if ProcessInfo.processInfo.environment["EVY_BENCH_NO_REFERENCE"] != nil { continue }
        attempt("feeds-distributed", source: "feedparser") {
            let script = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                .appendingPathComponent("Benchmarks/feeds/feedparser_feeds.py").path
            let output = try Child.run(["python3", script, list.path, "8"], seconds: 600, quiet: true)
            guard let line = output.split(separator: "\n").last,
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let first = object["pass1_seconds"] as? Double, let second = object["pass2_seconds"] as? Double,
                let entries = object["pass1_entries"] as? Int
            else { throw BenchmarkFailure("no result (is feedparser installed?)") }
            guard entries == total else { throw BenchmarkFailure("feedparser: \(entries) of \(total) entries") }
            let rate = Double(total) / first
            if rate > reference?.rate ?? 0 { reference = (rate, first, second) }
        }
    }
    if let reference {
        print(
            json([
                ("name", "feeds-distributed"), ("source", "feedparser"), ("value", reference.rate), ("unit", "entries/s"),
                ("pass1_seconds", reference.first), ("pass2_seconds", reference.second),
                ("pass2_speedup", reference.first / reference.second), ("threads", 8),
            ]))
    }
    guard let evy else { return }
    var fields: [(String, Any)] = [
        ("name", "feeds-distributed"), ("source", "evy"), ("value", evy.rate), ("unit", "entries/s"), ("feeds", feeds),
        ("entries", total), ("pass1_seconds", evy.first), ("pass2_seconds", evy.second),
        ("pass2_speedup", evy.first / evy.second), ("pass2_cpu", evy.cpu), ("processes", "dispatcher, collector, 2 workers"),
    ]
    if let reference {
        fields += [
            ("ratio", evy.rate / reference.rate), ("ratio_reference", "feedparser"),
            ("pass2_ratio", reference.second / evy.second),
        ]
    }
    print(json(fields))
}

/// CPU readings taken on the benchmark's hub, read after it returns.
private final class Readings: @unchecked Sendable {
    var value: [Double] = []
}
