import ArgumentParser
import Evy
import EvyCrawl
import EvyFeeds
import EvyJobs
import Foundation
import Glibc

/// `evy feeds FILE`: the feeds of a list or an OPML file polled through the job system, each
/// whenever it is due (or all of them once, with `--once`); embedded unless a dispatcher is named.
struct FeedsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "feeds", abstract: "Poll the feeds of a list or an OPML file through the job system.",
        discussion:
            "FILE is OPML, or one feed URL per line (# starts a comment). Each feed is polled when its schedule "
            + "says (from every 5 minutes to every 24 hours, by how often it publishes and what the server asks), "
            + "with conditional GETs; failing feeds are backed off, never dropped, and listed; a 410 stops a feed. "
            + "With --once every feed is polled once, now, and the command ends. The feeds' state (validators, "
            + "entries seen, schedule) is kept in --state; the entries go to the collector: "
            + "evy results --feeds [--format jsonl|opml].")
    @Argument(help: "The feeds: an OPML file, or a file of URLs.") var file: String
    @ArgumentParser.Flag(help: "Poll every feed once, now, then stop.") var once = false
    @Option(help: "Polls of one host at once, across all workers.") var perHost = 4
    @Option(help: "Minutes between two polls of a feed at least.") var minInterval = 5
    @Option(help: "Minutes between two polls of a working feed at most.") var maxInterval = 24 * 60
    @Option(help: "The feeds' state file (default: feeds.sqlite3 in --data-dir).") var state: String?
    @Option(help: "The dispatcher's client endpoint (EVY_DISPATCHER); none: embedded.") var dispatcher: String?
    @Option(help: "The collector's client endpoint (EVY_COLLECTOR).")
    var collector = ProcessInfo.processInfo.environment["EVY_COLLECTOR"] ?? "tcp://127.0.0.1:5558"
    @OptionGroup var curve: ClientKeys
    @ArgumentParser.Flag(help: "Run every role in this process (the default without a dispatcher).") var embedded = false
    @Option(help: "Embedded: workers to run.") var workers = 2
    @Option(help: "Where the state (and, embedded, the journals) live.") var dataDir = "evy-data/feeds"

    func run() throws {
        let outlines = try Self.feeds(in: file)
        var schedule = PollSchedule()
        schedule.minInterval = .seconds(60 * minInterval)
        schedule.maxInterval = .seconds(60 * maxInterval)
        let dispatcher = embedded ? nil : (self.dispatcher ?? ProcessInfo.processInfo.environment["EVY_DISPATCHER"])
        let keys = dispatcher == nil ? nil : try curve.keys()  // embedded: no keys to read
        let (collector, workers, directory, perHost, once) = (self.collector, self.workers, dataDir, perHost, once)
        let statePath = state ?? directory + "/feeds.sqlite3"
        let settings = schedule
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Hub.run {
            let store = try FeedStateStore(path: statePath)
            defer { store.close() }
            let added = try store.add(outlines)
            print("\(outlines.count) feeds listed, \(added) new; state in \(statePath)")
            var system: EmbeddedSystem?
            let client: JobClient
            if let dispatcher {
                client = try JobClient(dispatcher: dispatcher, collector: collector, keys: keys)
            } else {
                let embedded = try EmbeddedSystem(directory: directory, workers: workers) { worker in
                    FeedPoller().register(on: worker)
                }
                system = embedded
                client = try embedded.client()
                print("embedded: a dispatcher, a collector and \(workers) workers; data in \(directory)")
            }
            defer { client.close() }
            let scraper = FeedScraper(client: client, store: store, schedule: settings)
            scraper.perHost = perHost
            let line = ProgressPrinter()
            let summary = try await scraper.run(once ? .once : .forever) { progress in
                line.show(
                    "\(progress.polls) polls, \(progress.entries) entries, \(progress.notModified) not modified, "
                        + "\(progress.errors) failed, \(progress.queued) queued, \(Int(progress.entriesPerSecond)) entries/s")
            }
            line.finish()
            Self.report(summary)
            print(
                dispatcher == nil
                    ? "entries: evy results --feeds --data-dir \(directory)" : "entries: evy results --feeds")
            await system?.stop()
        }
    }

    /// The feeds listed in `path`: OPML if it looks like XML, else a URL per line.
    static func feeds(in path: String) throws -> [OPML.Outline] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        let bytes = Array(data)
        if bytes.first(where: { ![9, 10, 13, 32, 0xEF, 0xBB, 0xBF].contains($0) }) == UInt8(ascii: "<") {
            do {
                return try OPML(data: bytes).feeds
            } catch {
                throw ValidationError("\(path): \(error)")
            }
        }
        var outlines: [OPML.Outline] = []
        for (number, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n").enumerated() {
            let text = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                .trimmingCharacters(in: .whitespaces) ?? ""
            guard !text.isEmpty else { continue }
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased()), url.host != nil else {
                throw ValidationError("\(path):\(number + 1): not an http(s) URL: \(text)")
            }
            outlines.append(OPML.Outline(url: text))
        }
        return outlines
    }

    private static func report(_ summary: FeedScraper.Summary) {
        let progress = summary.progress
        print(
            "\(progress.polls) polls in \(String(format: "%.2f", summary.seconds)) s: \(progress.entries) new entries"
                + " (\(Int(progress.entriesPerSecond)) entries/s), \(progress.notModified) not modified,"
                + " \(progress.errors) failed, \(summary.bozo) malformed")
        for (feed, url) in summary.moved.sorted(by: { $0.key < $1.key }) { print("moved: \(feed) -> \(url)") }
        for state in summary.gone { print("stopped (410 Gone): \(state.feed)") }
        if !summary.failing.isEmpty {
            print("failing feeds (\(summary.failing.count)), still polled with backoff:")
            for state in summary.failing.prefix(20) {
                print("  \(state.feed): \(state.errors) in a row, last: \(state.lastError ?? "?")")
            }
        }
    }
}
