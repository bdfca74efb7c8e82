import Evy
import EvyCrawl
import EvyFeeds
import EvyHTTP
import EvyTestSupport
import Foundation
import Glibc
import XCTest

/// `evy feeds` and `evy results --feeds` as a user runs them: an OPML file, an embedded run, a
/// second pass, then the entries as JSON Lines and the feeds as OPML, read from the run's directory.
final class FeedsCommandTests: XCTestCase {
    private static func run(_ arguments: [String]) async throws -> (status: ExitStatus, output: String) {
        let evy = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("evy").path
        let process = try ChildProcess([evy] + arguments, standardInput: .discard, standardOutput: .pipe, standardError: .discard)
        var output: [UInt8] = []
        let stream = process.standardOutput!.buffered()
        while let line = try await stream.readLine(timeout: .seconds(60)) { output += Array((line + "\n").utf8) }
        return (try await process.wait(timeout: .seconds(60)), String(decoding: output, as: UTF8.self))
    }

    func testFeedsOnceTwiceThenResultsAsJSONLinesAndOPML() throws {
        let directory = NSTemporaryDirectory() + "evy-feeds-cli-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(120)) {
            let site = FeedSite()
            for n in 0..<3 { site.feeds["/f/\(n)"] = (1, (0..<4).map { "f\(n)-e\($0)" }) }
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration, handler: site.handler)
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { try await server.serve(listener) }
            let base = "http://127.0.0.1:\(listener.localAddress!.port)"
            let opml = OPML.document(
                title: "Mine", feeds: ["/f/0", "/f/1", "/f/2", "/gone"].map { OPML.Outline(url: base + $0, title: $0) })
            try Data(opml.utf8).write(to: URL(fileURLWithPath: directory + "/feeds.opml"))
            let data = directory + "/data"

            let first = try await Self.run(["feeds", directory + "/feeds.opml", "--once", "--data-dir", data])
            XCTAssertEqual(first.status, .exited(0), first.output)
            XCTAssertTrue(first.output.contains("4 polls"), first.output)
            XCTAssertTrue(first.output.contains("12 new entries"), first.output)
            XCTAssertTrue(first.output.contains("stopped (410 Gone): \(base)/gone"), first.output)
            let second = try await Self.run(["feeds", directory + "/feeds.opml", "--once", "--data-dir", data])
            XCTAssertEqual(second.status, .exited(0), second.output)
            XCTAssertTrue(second.output.contains("3 polls"), second.output)
            XCTAssertTrue(second.output.contains("0 new entries"), second.output)
            XCTAssertTrue(second.output.contains("3 not modified"), second.output)

            let entries = try await Self.run(["results", "--feeds", "--data-dir", data])
            XCTAssertEqual(entries.status, .exited(0))
            let items = try entries.output.split(separator: "\n").map {
                try JSONDecoder().decode(FeedItem.self, from: Data($0.utf8))
            }
            XCTAssertEqual(items.count, 12, "each entry once, over both passes")
            XCTAssertEqual(Set(items.compactMap(\.id)).count, 12)
            XCTAssertTrue(items.allSatisfy { $0.feed.hasPrefix(base + "/f/") && $0.title != nil })

            let list = try await Self.run(["results", "--feeds", "--format", "opml", "--data-dir", data])
            XCTAssertEqual(list.status, .exited(0))
            let exported = try OPML(data: Array(list.output.utf8))
            XCTAssertEqual(Set(exported.feeds.map(\.url)), Set(["/f/0", "/f/1", "/f/2", "/gone"].map { base + $0 }))
            XCTAssertEqual(exported.feeds.first { $0.url == base + "/f/1" }?.title, "Feed /f/1", "the feed's own title")
            await server.stop()
        }
    }
}
