import ArgumentParser
import Evy
import EvyCrawler
import EvyJobs
import Foundation
import Glibc

/// `evy crawl URL…`: a crawl through the job system, with live progress; embedded (every role in
/// this process, its data in `--data-dir`) unless a dispatcher is named.
struct CrawlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crawl", abstract: "Crawl a site through the job system, with live progress.",
        discussion:
            "With --dispatcher (or EVY_DISPATCHER) the pages are fetched by the evy-worker processes serving "
            + "crawl.fetch; otherwise (--embedded) a dispatcher, a collector and --workers workers run in this "
            + "process over inproc://, keeping their data in --data-dir. Run the same --id again to resume: "
            + "recorded pages are not fetched again.")
    @Argument(help: "Where the crawl starts (one or more URLs).") var seeds: [String]
    @Option(help: "The crawl's id (default: the first seed's host); the same id resumes.") var id: String?
    @Option(help: "Links followed from a seed at most.") var depth = 10
    @Option(help: "Pages at most.") var maxPages = 100_000
    @Option(help: "Largest page in bytes.") var maxPageBytes = 5 << 20
    @Option(help: "Fetches of one host at once, across all workers.") var perHost = 8
    @Option(help: "Milliseconds between two fetches of one host.") var delayMs = 0
    @Option(help: "Hosts to stay on (comma-separated) instead of the seeds' sites.") var allow: String?
    @Option(help: "The dispatcher's client endpoint (EVY_DISPATCHER); none: embedded.") var dispatcher: String?
    @Option(help: "The collector's client endpoint (EVY_COLLECTOR).")
    var collector = ProcessInfo.processInfo.environment["EVY_COLLECTOR"] ?? "tcp://127.0.0.1:5558"
    @OptionGroup var curve: ClientKeys
    @ArgumentParser.Flag(help: "Run every role in this process (the default without a dispatcher).") var embedded = false
    @Option(help: "Embedded: workers to run.") var workers = 2
    @Option(help: "Embedded: where the journals live.") var dataDir = "evy-data/crawl"

    func validate() throws {
        for seed in seeds where URL(string: seed)?.host == nil { throw ValidationError("not an http(s) URL: \(seed)") }
    }

    func run() throws {
        var policy = CrawlPolicy()
        policy.maxDepth = depth
        policy.maxPages = maxPages
        policy.maxPageBytes = maxPageBytes
        if let allow { policy.scope = .hosts(allow.split(separator: ",").map { String($0) }) }
        let settings = policy
        let id = self.id ?? URL(string: seeds[0])?.host ?? "crawl"
        let dispatcher = embedded ? nil : (self.dispatcher ?? ProcessInfo.processInfo.environment["EVY_DISPATCHER"])
        let keys = dispatcher == nil ? nil : try curve.keys()  // embedded: no keys to read
        let (seeds, collector, workers, directory, perHost, delay) = (
            self.seeds, self.collector, self.workers, dataDir, perHost, Duration.milliseconds(delayMs)
        )
        try Hub.run {
            var system: EmbeddedSystem?
            let client: JobClient
            if let dispatcher {
                client = try JobClient(dispatcher: dispatcher, collector: collector, keys: keys)
            } else {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let embedded = try EmbeddedSystem(directory: directory, workers: workers) { worker in
                    CrawlFetcher().register(on: worker)
                }
                system = embedded
                client = try embedded.client()
                print("embedded: a dispatcher, a collector and \(workers) workers; data in \(directory)")
            }
            defer { client.close() }
            let crawl = Crawl(client: client, id: id, seeds: seeds, policy: settings)
            crawl.perHost = perHost
            crawl.spacing = delay
            let line = ProgressPrinter()
            let summary = try await crawl.run { progress in
                line.show(
                    "\(progress.done) pages, \(progress.queued) queued, \(progress.errors) errors, \(Int(progress.pagesPerSecond)) pages/s")
            }
            line.finish()
            let statuses = summary.statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
            print(
                "crawl \(id): \(summary.pages) pages in \(String(format: "%.2f", summary.seconds)) s"
                    + " (\(Int(Double(summary.pages) / max(summary.seconds, 0.001))) pages/s), \(summary.errors) errors;"
                    + " statuses \(statuses.joined(separator: ", "))")
            if !summary.skipped.isEmpty {
                print("links not followed: " + summary.skipped.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", "))
            }
            if dispatcher == nil {
                print("results: evy results --crawl \(id) --data-dir \(directory)")
            } else {
                print("results: evy results --crawl \(id)")
            }
            await system?.stop()
        }
    }
}

/// Progress on one line on a terminal, a line a second otherwise (evy crawl, evy feeds).
final class ProgressPrinter: @unchecked Sendable {
    private let terminal = isatty(STDOUT_FILENO) != 0
    private var lastLine = ContinuousClock.now

    func show(_ text: String) {
        if terminal {
            print("\r\(text)   ", terminator: "")
            fflush(nil)
        } else if ContinuousClock.now - lastLine >= .seconds(1) {
            lastLine = .now
            print(text)
            fflush(nil)
        }
    }

    func finish() { if terminal { print() } }
}
