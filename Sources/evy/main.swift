// evy: the command-line client of the job system.
import ArgumentParser
import Evy
import EvyCrawl
import EvyCrawler
import EvyFeeds
import EvyJobs
import EvyOps
import Foundation
import Glibc

struct Endpoints: ParsableArguments {
    @Option(help: "The dispatcher's client endpoint (EVY_DISPATCHER).")
    var dispatcher = environment("EVY_DISPATCHER", "tcp://127.0.0.1:5555")
    @Option(help: "The collector's client endpoint (EVY_COLLECTOR).")
    var collector = environment("EVY_COLLECTOR", "tcp://127.0.0.1:5558")
    @Option(help: "Seconds to wait for an answer.")
    var timeout = 10.0
    @OptionGroup var curve: ClientKeys

    /// The CURVE keys the options name, if any.
    func keys() throws -> JobKeys? { try curve.keys() }

    /// Runs `body` on a hub with a connected client, closed afterwards.
    func withClient(_ body: @escaping @Sendable (JobClient) async throws -> Void) throws {
        let (dispatcher, collector, timeout, keys) = (self.dispatcher, self.collector, self.timeout, try keys())
        try Hub.run {
            let client = try JobClient(dispatcher: dispatcher, collector: collector, keys: keys)
            client.timeout = .milliseconds(Int64(timeout * 1000))
            defer { client.close() }
            try await body(client)
        }
    }
}

/// A client's CURVE options, shared by every command that connects to the dispatcher or collector.
struct ClientKeys: ParsableArguments {
    @Option(help: "CURVE: this client's key pair (evy keygen; EVY_CURVE_KEY).")
    var curveKey = environment("EVY_CURVE_KEY", "")
    @Option(help: "CURVE: the dispatcher's .pub file (EVY_DISPATCHER_KEY).")
    var dispatcherKey = environment("EVY_DISPATCHER_KEY", "")
    @Option(help: "CURVE: the collector's .pub file (EVY_COLLECTOR_KEY).")
    var collectorKey = environment("EVY_COLLECTOR_KEY", "")

    /// The CURVE keys the options name, if any; throws if a file cannot be read.
    func keys() throws -> JobKeys? { try JobKeys.load(key: curveKey, dispatcher: dispatcherKey, collector: collectorKey) }
}

struct EvyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evy", abstract: "Submit jobs to Evy's dispatcher and read their results.",
        subcommands: [Submit.self, Status.self, Inspect.self, Cancel.self, Results.self, Dead.self, CrawlCommand.self, FeedsCommand.self, Keygen.self])
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
    static let configuration = CommandConfiguration(
        abstract: "The dispatcher's and the collector's state, as JSON.",
        discussion: "A role that does not answer in --timeout is null (and said on standard error); neither: exit status 1.")
    @OptionGroup var endpoints: Endpoints

    func run() throws {
        try endpoints.withClient { client in
            /// The role's answer, or null with the reason on standard error.
            func answer(_ role: String, _ ask: () async throws -> [UInt8]) async -> String? {
                do {
                    return String(decoding: try await ask(), as: UTF8.self)
                } catch {
                    FileHandle.standardError.write(Data("evy status: the \(role) did not answer: \(error)\n".utf8))
                    return nil
                }
            }
            let dispatcher = await answer("dispatcher") { try await client.query("status") }
            let collector = await answer("collector") { try await client.queryCollector("status") }
            print("{\"dispatcher\": \(dispatcher ?? "null"), \"collector\": \(collector ?? "null")}")
            if dispatcher == nil && collector == nil { throw ExitCode.failure }
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Jobs running (active), waiting for their time (scheduled) or dead; or a process's console.",
        discussion:
            "evy inspect HOST:PORT [COMMAND] (or unix:PATH) asks a role's inspection console (started with --admin) "
            + "and prints its hub (jobs run, longest turn, blocking reports), its green threads and what each waits on, "
            + "its pools and the role's own state. COMMAND: all (default), hub, threads, pools, role, help, or an action "
            + "the role allows (--admin-actions): drain, detect-blocking MS.")
    @OptionGroup var endpoints: Endpoints
    @Argument(help: "active, scheduled or dead; or a console's HOST:PORT or unix:PATH.") var what: String
    @Argument(help: "For a console: the command and its argument.") var command: [String] = []
    @Option(help: "At most this many.") var limit: UInt32 = 100
    @ArgumentParser.Flag(help: "For a console: print its JSON answer as it is.") var json = false

    private var isConsole: Bool { what.hasPrefix("unix:") || what.contains(":") }

    func validate() throws {
        guard isConsole || ["active", "scheduled", "dead"].contains(what) else {
            throw ValidationError("inspect active|scheduled|dead, or inspect HOST:PORT|unix:PATH [COMMAND]")
        }
    }

    func run() throws {
        if isConsole {
            let address = try ListenAddress(what)
            let (line, json) = (command.isEmpty ? "all" : command.joined(separator: " "), self.json)
            let timeout = Duration.milliseconds(Int64(endpoints.timeout * 1000))
            try Hub.run {
                let answer = try await InspectionClient.ask(address, line, timeout: timeout)
                print(json ? answer : InspectionClient.report(answer))
            }
            return
        }
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
        abstract: "Recorded results, oldest first; a crawl's pages or the feeds' entries.",
        discussion:
            "--crawl ID exports a crawl's page records and --feeds the feeds' entries, as JSON Lines; "
            + "--feeds --format opml lists the feeds polled. With --data-dir the results are read from the "
            + "directory of an embedded run (evy crawl, evy feeds) instead of from a running collector.")
    @OptionGroup var endpoints: Endpoints
    @Option(help: "Start after this sequence number.") var after: UInt64 = 0
    @ArgumentParser.Flag(help: "Keep printing new results as they are recorded.") var follow = false
    @ArgumentParser.Flag(help: "One JSON object per line (the same as --format jsonl).") var json = false
    @Option(help: "Only the pages of this crawl, as their page records.") var crawl: String?
    @ArgumentParser.Flag(help: "Only the feeds' entries (feed, id, title, link, published, summary).") var feeds = false
    @Option(help: "text, jsonl, or opml (with --feeds: the feeds polled, as an OPML list).") var format: String?
    @Option(help: "Read an embedded run's results from this directory instead of a collector.") var dataDir: String?

    func validate() throws {
        guard [nil, "text", "jsonl", "opml"].contains(format) else { throw ValidationError("--format text|jsonl|opml") }
        if format == "opml" && !feeds { throw ValidationError("--format opml lists feeds: add --feeds") }
        if format == "opml" && follow { throw ValidationError("--format opml prints one document: no --follow") }
        if crawl != nil && feeds { throw ValidationError("--crawl or --feeds, not both") }
    }

    func run() throws {
        let (follow, start, crawl, feeds, dataDir) = (self.follow, self.after, self.crawl, self.feeds, self.dataDir)
        let format = json ? "jsonl" : format ?? (crawl != nil || feeds ? "jsonl" : "text")
        let (dispatcher, collector, timeout, keys) = (
            endpoints.dispatcher, endpoints.collector, endpoints.timeout, try endpoints.keys()
        )
        try Hub.run {
            let source = try ResultSource(dataDirectory: dataDir, dispatcher: dispatcher, collector: collector, keys: keys)
            source.client?.timeout = .milliseconds(Int64(timeout * 1000))
            defer { source.close() }
            var outlines: [String: OPML.Outline] = [:]
            var order: [String] = []
            var after = start
            while true {
                let (results, next) = try await source.page(after: after)
                for result in results {
                    let text = result["result"] as? String
                    if let crawl {
                        guard result["handler"] as? String == CrawlFetcher.handlerName, let text,
                            let record = try? JSONDecoder().decode(PageRecord.self, from: Data(text.utf8)),
                            record.crawl == crawl
                        else { continue }
                        print(text)
                    } else if feeds {
                        guard result["handler"] as? String == FeedPoller.handlerName, let text,
                            let poll = try? JSONDecoder().decode(FeedPoll.self, from: Data(text.utf8))
                        else { continue }
                        if format == "opml" {
                            if outlines[poll.feed] == nil { order.append(poll.feed) }
                            let known = outlines[poll.feed]
                            outlines[poll.feed] = OPML.Outline(
                                url: poll.feed, title: poll.title ?? known?.title, homePage: poll.homePage ?? known?.homePage)
                        } else {
                            let encoder = JSONEncoder()
                            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                            for entry in poll.entries { print(String(decoding: try encoder.encode(entry), as: UTF8.self)) }
                        }
                    } else if format == "jsonl" {
                        print(
                            String(
                                decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]),
                                as: UTF8.self))
                    } else {
                        print("\(result["job"] ?? "?")\t\(result["status"] ?? "?")\t\(result["handler"] ?? "?")\t\(text ?? "")")
                    }
                }
                after = next
                if results.isEmpty {
                    guard follow else { break }
                    try await sleep(for: .milliseconds(500))
                }
            }
            if format == "opml" {
                print(OPML.document(title: "Evy feeds", feeds: order.map { outlines[$0]! }), terminator: "")
            }
        }
    }
}

/// Where `evy results` reads: a running collector, or the collector store of an embedded run.
final class ResultSource: @unchecked Sendable {
    let client: JobClient?
    private let store: CollectorStore?

    init(dataDirectory: String?, dispatcher: String, collector: String, keys: JobKeys?) throws {
        if let dataDirectory {
            let directory = dataDirectory + "/collector"
            guard FileManager.default.fileExists(atPath: directory + "/collector.sqlite3") else {
                throw ValidationError("no results in \(dataDirectory) (no collector/collector.sqlite3)")
            }
            store = try CollectorStore(directory: directory, hub: .current)
            client = nil
        } else {
            client = try JobClient(dispatcher: dispatcher, collector: collector, keys: keys)
            store = nil
        }
    }

    /// Up to 1000 results recorded after sequence number `after`, and the number to ask after next.
    func page(after: UInt64) async throws -> (results: [[String: Any]], next: UInt64) {
        if let store {
            let rows = try store.page(after: Int64(after), limit: 1000)
            return (rows.map(Collector.json), rows.last.map { UInt64($0.seq) } ?? after)
        }
        let page = try await client!.queryCollector("results", after: after, limit: 1000)
        let object = try JSONSerialization.jsonObject(with: Data(page)) as? [String: Any] ?? [:]
        let next = (object["next"] as? UInt64) ?? UInt64((object["next"] as? Int) ?? Int(after))
        return (object["results"] as? [[String: Any]] ?? [], next)
    }

    func close() {
        client?.close()
        store?.close()
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

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write CURVE key pairs: NAME.key (secret, mode 0600) and NAME.pub (give it to the peers).",
        discussion:
            "Give each role its .key with --curve-key; put the .pub of every client, worker and the collector "
                + "in the directory the dispatcher's --curve-allow names (the workers' and clients' in the "
                + "collector's), and the dispatcher's and collector's .pub to those that connect to them "
                + "(--dispatcher-key, --collector-key).")
    @Argument(help: "Names of the key pairs to write (paths without extension), e.g. keys/worker-1.") var names: [String]
    @ArgumentParser.Flag(help: "Replace existing files.") var force = false

    func run() throws {
        for name in names {
            if !force, FileManager.default.fileExists(atPath: name + ".key") {
                throw ValidationError("\(name).key exists (--force replaces it)")
            }
            let directory = (name as NSString).deletingLastPathComponent
            if !directory.isEmpty {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            let pair = try JobKeys.generate(at: name)
            print("\(name).key, \(name).pub: public key \(pair.publicKey)")
        }
    }
}

func environment(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }

EvyCommand.main()
