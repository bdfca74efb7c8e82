// evy: the command-line client of the job system.
import ArgumentParser
import Evy
import EvyCrawler
import EvyJobs
import Foundation
import Glibc

struct Endpoints: ParsableArguments {
    @Option(help: "The dispatcher's client endpoint (EVY_DISPATCHER).")
    var dispatcher = environment("EVY_DISPATCHER", "tcp://127.0.0.1:5555")
    @Option(help: "The collector's client endpoint (EVY_COLLECTOR).")
    var collector = environment("EVY_COLLECTOR", "tcp://127.0.0.1:5558")
    @Option(help: "Seconds to wait for an answer.")
    var timeout = 10.0

    /// Runs `body` on a hub with a connected client, closed afterwards.
    func withClient(_ body: @escaping @Sendable (JobClient) async throws -> Void) throws {
        let (dispatcher, collector, timeout) = (self.dispatcher, self.collector, self.timeout)
        try Hub.run {
            let client = try JobClient(dispatcher: dispatcher, collector: collector)
            client.timeout = .milliseconds(Int64(timeout * 1000))
            defer { client.close() }
            try await body(client)
        }
    }
}

struct EvyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evy", abstract: "Submit jobs to Evy's dispatcher and read their results.",
        subcommands: [Submit.self, Status.self, Inspect.self, Cancel.self, Results.self, Dead.self, CrawlCommand.self])
}

struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit a job (or many, from a JSON Lines file), optionally waiting for the outcomes.",
        discussion:
            "A line of --file is an object: {\"handler\": \"fetch\", \"payload\": \"http://…\", \"priority\": 5, "
            + "\"dedupKey\": \"…\"}; a line with no handler uses HANDLER.")
    @OptionGroup var endpoints: Endpoints
    @Argument(help: "The handler to run.") var handler: String
    @Argument(help: "The payload (text), or - to read it from standard input.") var payload: String?
    @Option(help: "Submit every line of this JSON Lines file.") var file: String?
    @ArgumentParser.Flag(help: "Wait for the outcomes, with a progress bar on a terminal.") var wait = false
    @Option(help: "0–255, higher first.") var priority: UInt8 = 0
    @Option(help: "Run no earlier than this many milliseconds from now.") var delayMs: UInt64 = 0
    @Option(help: "A second job with the same key is not queued again.") var dedupKey = ""
    @Option(help: "Jobs sharing this key obey --limit and --spacing-ms across all workers.") var key = ""
    @Option(help: "At most this many jobs of --key at once.") var limit: UInt16 = 0
    @Option(help: "At least this long between starts of jobs of --key.") var spacingMs: UInt32 = 0
    @Option(help: "Retries after failures (default: the dispatcher's).") var retries: UInt8?
    @Option(help: "How long one attempt may run.") var timeoutMs: UInt32 = 0
    @Option(help: "Submits in flight at once.") var window = 1000

    func run() throws {
        var options = JobOptions()
        options.priority = priority
        options.notBefore = delayMs > 0 ? UInt64(Date().timeIntervalSince1970 * 1000) + delayMs : 0
        options.dedupKey = dedupKey
        options.concurrencyKey = key
        options.concurrencyLimit = limit
        options.spacingMilliseconds = spacingMs
        options.maxRetries = retries ?? 255
        options.timeoutMilliseconds = timeoutMs
        let jobs = try readJobs(options: options)
        let (wait, window) = (self.wait, self.window)
        try endpoints.withClient { client in
            let started = ContinuousClock.now
            let ids = try await client.submitMany(jobs, window: window)
            let seconds = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
            if ids.count == 1 {
                print(ids[0])
            } else {
                print(
                    "submitted \(ids.count) jobs in \(String(format: "%.2f", seconds)) s (\(Int(Double(ids.count) / max(seconds, 0.001)))/s)"
                )
            }
            guard wait else { return }
            let progress = ProgressLine(total: Set(ids).count)
            var failed = 0
            for try await outcome in client.outcomes(of: Array(Set(ids))) {
                if outcome.status != .succeeded { failed += 1 }
                if ids.count == 1 {
                    print("\(outcome.status): \(outcome.text)")
                } else {
                    progress.advance(failed: failed)
                }
            }
            progress.finish()
        }
    }

    private func readJobs(options: JobOptions) throws -> [(handler: String, payload: [UInt8], options: JobOptions)] {
        guard let file else {
            let bytes: [UInt8] =
                payload == "-" ? Array(FileHandle.standardInput.readDataToEndOfFile()) : Array((payload ?? "").utf8)
            return [(handler, bytes, options)]
        }
        let text = try String(contentsOfFile: file, encoding: .utf8)
        return try text.split(separator: "\n").enumerated().compactMap { number, line in
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw ValidationError("\(file):\(number + 1): not a JSON object")
            }
            var lineOptions = options
            if let priority = object["priority"] as? Int { lineOptions.priority = UInt8(clamping: priority) }
            if let key = object["dedupKey"] as? String { lineOptions.dedupKey = key }
            if let key = object["key"] as? String { lineOptions.concurrencyKey = key }
            let payload = object["payload"].map { $0 as? String ?? "\($0)" } ?? ""
            return ((object["handler"] as? String) ?? handler, Array(payload.utf8), lineOptions)
        }
    }
}

/// A progress bar on a terminal, a line every 10% otherwise.
final class ProgressLine: @unchecked Sendable {
    let total: Int
    var done = 0
    var lastDecile = -1
    let started = ContinuousClock.now
    let terminal = isatty(STDOUT_FILENO) != 0

    init(total: Int) { self.total = total }

    func advance(failed: Int) {
        done += 1
        let rate = Double(done) / max(0.001, Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000)
        if terminal {
            let width = 30
            let filled = total == 0 ? width : width * done / total
            print(
                "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(done)/\(total)"
                    + "  \(failed) failed  \(Int(rate))/s", terminator: "")
            fflush(nil)
        } else if done * 10 / max(total, 1) > lastDecile {
            lastDecile = done * 10 / max(total, 1)
            print("\(done)/\(total) done, \(failed) failed, \(Int(rate))/s")
        }
    }

    func finish() { if terminal { print() } }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The dispatcher's and the collector's state, as JSON.")
    @OptionGroup var endpoints: Endpoints

    func run() throws {
        try endpoints.withClient { client in
            let dispatcher = (try? await client.query("status")).map { String(decoding: $0, as: UTF8.self) }
            let collector = (try? await client.queryCollector("status")).map { String(decoding: $0, as: UTF8.self) }
            print("{\"dispatcher\": \(dispatcher ?? "null"), \"collector\": \(collector ?? "null")}")
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Jobs running (active), waiting for their time (scheduled) or dead.")
    @OptionGroup var endpoints: Endpoints
    @Argument(help: "active, scheduled or dead.") var what: String
    @Option(help: "At most this many.") var limit: UInt32 = 100

    func validate() throws {
        guard ["active", "scheduled", "dead"].contains(what) else {
            throw ValidationError("inspect active|scheduled|dead")
        }
    }

    func run() throws {
        let (what, limit) = (self.what, self.limit)
        try endpoints.withClient { client in
            print(String(decoding: try await client.query(what, limit: limit), as: UTF8.self))
        }
    }
}

struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a job: removed if queued, aborted if running.")
    @OptionGroup var endpoints: Endpoints
    @Argument(help: "The job's id.") var id: UInt64

    func run() throws {
        let id = self.id
        try endpoints.withClient { client in print(try await client.cancel(id)) }
    }
}

struct Results: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recorded results, oldest first (JSON Lines with --json).")
    @OptionGroup var endpoints: Endpoints
    @Option(help: "Start after this sequence number.") var after: UInt64 = 0
    @ArgumentParser.Flag(help: "Keep printing new results as they are recorded.") var follow = false
    @ArgumentParser.Flag(help: "One JSON object per line.") var json = false
    @Option(help: "Only the pages of this crawl, as their page records (JSON Lines).") var crawl: String?

    func run() throws {
        let (follow, json, start, crawl) = (self.follow, self.json, self.after, self.crawl)
        try endpoints.withClient { client in
            var after = start
            while true {
                let page = try await client.queryCollector("results", after: after, limit: 1000)
                let object = try JSONSerialization.jsonObject(with: Data(page)) as? [String: Any] ?? [:]
                let results = object["results"] as? [[String: Any]] ?? []
                for result in results {
                    if let crawl {
                        guard result["handler"] as? String == CrawlFetcher.handlerName, let text = result["result"] as? String,
                            let record = try? JSONDecoder().decode(PageRecord.self, from: Data(text.utf8)),
                            record.crawl == crawl
                        else { continue }
                        print(text)
                    } else if json {
                        print(
                            String(
                                decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]),
                                as: UTF8.self))
                    } else {
                        print(
                            "\(result["job"] ?? "?")\t\(result["status"] ?? "?")\t\(result["handler"] ?? "?")\t\(result["result"] ?? "")"
                        )
                    }
                }
                after = (object["next"] as? UInt64) ?? UInt64((object["next"] as? Int) ?? Int(after))
                if results.isEmpty {
                    guard follow else { return }
                    try await sleep(for: .milliseconds(500))
                }
            }
        }
    }
}

struct Dead: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Dead letters: list, retry or purge them.")
    @OptionGroup var endpoints: Endpoints
    @Argument(help: "list, retry or purge.") var action: String
    @Argument(help: "One job's id (default: all).") var id: UInt64 = 0

    func validate() throws {
        guard ["list", "retry", "purge"].contains(action) else { throw ValidationError("dead list|retry|purge [ID]") }
    }

    func run() throws {
        let (action, id) = (self.action, self.id)
        try endpoints.withClient { client in
            switch action {
            case "list": print(String(decoding: try await client.query("dead", limit: 1000), as: UTF8.self))
            case "retry": print("\(try await client.deadLetters(.retry, job: id)) jobs queued again")
            default: print("\(try await client.deadLetters(.purge, job: id)) jobs purged")
            }
        }
    }
}

func environment(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }

EvyCommand.main()
