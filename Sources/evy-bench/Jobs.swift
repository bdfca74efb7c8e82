// The job-system benchmarks of evy-bench (`jobs-noop`, `jobs-enqueue`, `jobs-fetch`,
// `jobs-latency`, `jobs-scale`, `jobs-deep`, or `jobs` for all): the real evy-dispatcher,
// evy-collector and evy-worker executables as separate processes over tcp loopback, driven by a
// JobClient in this process; next to Dramatiq with Redis in the same run
// (Benchmarks/jobs/dramatiq_jobs.py against a redis-server this file starts and stops by pid).
import Evy
import EvyCrawler
import EvyJobs
import EvyZMQ
import Foundation
import Glibc

/// The repository's `Benchmarks/jobs` folder (evy-bench runs from the repository's root).
private let jobScripts = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    .appendingPathComponent("Benchmarks/jobs")

/// The folder of the executables beside evy-bench.
let executables = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

/// How long any one role process may live before its watchdog stops it.
private let roleSeconds = 600.0

/// A dispatcher, optionally a collector, and worker processes over tcp loopback, each on a port
/// the kernel picked (`tcp://127.0.0.1:*`), with their data in a temporary folder removed by
/// ``stop()``. Whoever holds it stops every process by its pid.
final class JobSystem {
    let dispatcher: Child
    private(set) var collector: Child?
    private(set) var workers: [Child] = []
    let clientEndpoint: String
    let workerEndpoint: String
    private(set) var resultEndpoint = ""
    private(set) var readerEndpoint = ""
    let directory: URL

    /// Starts the roles and returns once every worker has introduced itself to the dispatcher.
    init(workers count: Int, handlers: String = "noop", synchronous: String = "normal", collector: Bool = true) throws {
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("evy-bench-jobs-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let (dispatcher, endpoints) = try Self.startRole(
            "evy-dispatcher",
            [
                "--client-endpoint", "tcp://127.0.0.1:*", "--worker-endpoint", "tcp://127.0.0.1:*", "--data-dir",
                directory.appendingPathComponent("d").path, "--synchronous", synchronous,
            ])
        self.dispatcher = dispatcher
        clientEndpoint = endpoints.first ?? ""
        workerEndpoint = endpoints.last ?? ""
        guard collector || count == 0 else { throw BenchmarkFailure("workers need a collector") }
        if collector {
            let (child, endpoints) = try Self.startRole(
                "evy-collector",
                [
                    "--result-endpoint", "tcp://127.0.0.1:*", "--client-endpoint", "tcp://127.0.0.1:*", "--dispatcher",
                    workerEndpoint, "--data-dir", directory.appendingPathComponent("c").path, "--synchronous",
                    synchronous,
                ])
            resultEndpoint = endpoints.first ?? ""
            readerEndpoint = endpoints.last ?? ""
            self.collector = child
        }
        try addWorkers(count, handlers: handlers)
    }

    /// Starts the role executable `name` and returns it with the endpoints its start line names,
    /// in order ("evy-dispatcher: clients tcp://…, workers tcp://…").
    private static func startRole(_ name: String, _ arguments: [String]) throws -> (Child, [String]) {
        let child = try Child(
            [executables.appendingPathComponent(name).path] + arguments, seconds: roleSeconds, quiet: true)
        guard let line = child.readLine(containing: "\(name): ") else { throw BenchmarkFailure("\(name) did not start") }
        let endpoints = line.split(separator: " ").map { $0.trimmingCharacters(in: [","]) }
            .filter { $0.hasPrefix("tcp://") }
        return (child, endpoints)
    }

    /// Starts `count` more workers serving `handlers`; returns once the dispatcher counts them.
    func addWorkers(_ count: Int, handlers: String) throws {
        for _ in 0..<count {
            workers.append(
                try Child(
                    [
                        executables.appendingPathComponent("evy-worker").path, "--dispatcher", workerEndpoint,
                        "--collector", resultEndpoint, "--handlers", handlers,
                    ], seconds: roleSeconds, quiet: true))
        }
        let expected = workers.count
        try withClient { client in
            try await withTimeout(.seconds(30), label: "\(expected) workers to connect") {
                while try await Self.status(client)["workers"].flatMap({ ($0 as? [Any])?.count }) != expected {
                    try await sleep(for: .milliseconds(20))
                }
            }
        }
    }

    /// Runs `body` on a fresh hub with a client of this system.
    func withClient<T: Sendable>(_ body: @escaping @Sendable (JobClient) async throws -> T) throws -> T {
        let (dispatcher, collector) = (clientEndpoint, readerEndpoint)
        return try Hub.run {
            let client = try JobClient(dispatcher: dispatcher, collector: collector.isEmpty ? nil : collector)
            client.timeout = .seconds(60)
            defer { client.close() }
            return try await body(client)
        }
    }

    /// The dispatcher's status document.
    static func status(_ client: JobClient) async throws -> [String: Any] {
        let json = try await client.query("status")
        return (try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]) ?? [:]
    }

    /// Stops every process (SIGTERM, then SIGKILL) by its pid and removes the data.
    func stop() {
        for worker in workers { worker.stop() }
        collector?.stop()
        dispatcher.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

/// Submits `count` jobs of `handler` (window `window`) and waits for every outcome; returns the
/// seconds from the first submit to the last outcome, and those of the submits alone.
private func submitAndWait(_ system: JobSystem, count: Int, handler: String = "noop", payload: [UInt8] = [])
    throws -> (total: Double, submit: Double, failed: Int)
{
    try system.withClient { client in
        let jobs = [(handler: String, payload: [UInt8], options: JobOptions)](
            repeating: (handler, payload, JobOptions()), count: count)
        let start = ContinuousClock.now
        let ids = try await client.submitMany(jobs, window: 2000)
        let submitted = ContinuousClock.now
        var failed = 0
        for try await outcome in client.outcomes(of: ids) where outcome.status != .succeeded { failed += 1 }
        return (seconds(ContinuousClock.now - start), seconds(submitted - start), failed)
    }
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// The Dramatiq reference: a redis-server on a free loopback port (stopped by its pid), and
/// Benchmarks/jobs/dramatiq_jobs.py's lines for a scenario, printed as they are and returned by name.
/// `EVY_BENCH_NO_REFERENCE=1` skips it (quicker runs while working on Evy; no ratio then).
private func dramatiq(_ scenario: String, count: Int, extra: [String] = []) -> [String: Double] {
    var values: [String: Double] = [:]
    if ProcessInfo.processInfo.environment["EVY_BENCH_NO_REFERENCE"] == "1" { return values }
    attempt("jobs-\(scenario)", source: "dramatiq") {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") else {
            throw BenchmarkFailure("redis-server missing: scripts/bench installs it")
        }
        let port = try freePort()
        let redis = try Child(
            [
                "/usr/bin/redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly",
                "no", "--daemonize", "no",
            ], seconds: roleSeconds, quiet: true)
        defer { redis.stop() }
        try waitForListener(port)
        let output = try Child.run(
            [
                "python3", jobScripts.appendingPathComponent("dramatiq_jobs.py").path, "--redis",
                "redis://127.0.0.1:\(port)/0", scenario, "\(count)",
            ] + extra, seconds: 400, quiet: true)
        for line in output.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let name = object["name"] as? String
            else { continue }
            print(line)
            if let value = object["value"] as? Double { values[name] = value }
        }
        fflushStandardOutput()
        if values.isEmpty { throw BenchmarkFailure("dramatiq_jobs.py printed no measurement") }
    }
    return values
}

/// Prints one Evy line, with its ratio against the reference when there is one (above 1: Evy is
/// better; `lowerIsBetter` for latencies).
private func report(
    _ name: String, _ value: Double, unit: String, reference: Double?, lowerIsBetter: Bool = false,
    _ extra: [(String, Any)] = []
) {
    var fields: [(String, Any)] = [("name", name), ("source", "evy"), ("value", value), ("unit", unit)]
    if let reference, reference > 0, value > 0 {
        fields += [("ratio", lowerIsBetter ? reference / value : value / reference), ("ratio_reference", "dramatiq")]
    }
    print(json(fields + extra))
    fflushStandardOutput()
}

// MARK: Scenarios

/// Submit → recorded for `count` no-op jobs, 2 workers, journals NORMAL then FULL.
func jobsNoopBenchmark(count: Int) throws {
    let reference = dramatiq("noop", count: 20_000)["jobs-noop"]
    for synchronous in ["normal", "full"] {
        attempt("jobs-noop", source: "evy") {
            let system = try JobSystem(workers: 2, synchronous: synchronous)
            defer { system.stop() }
            let run = try submitAndWait(system, count: count)
            report(
                "jobs-noop", Double(count) / run.total, unit: "jobs/s", reference: reference,
                [
                    ("n", count), ("synchronous", synchronous), ("seconds", run.total),
                    ("submits_per_s", Double(count) / run.submit), ("failed", run.failed),
                ])
        }
    }
}

/// Acknowledged submits from one client, to a dispatcher alone.
func jobsEnqueueBenchmark(count: Int) throws {
    let reference = dramatiq("enqueue", count: 20_000)["jobs-enqueue"]
    attempt("jobs-enqueue", source: "evy") {
        let system = try JobSystem(workers: 0, collector: false)
        defer { system.stop() }
        let elapsed = try system.withClient { client in
            let jobs = [(handler: String, payload: [UInt8], options: JobOptions)](
                repeating: ("noop", [], JobOptions()), count: count)
            let start = ContinuousClock.now
            _ = try await client.submitMany(jobs, window: 5000)
            return seconds(ContinuousClock.now - start)
        }
        report("jobs-enqueue", Double(count) / elapsed, unit: "submits/s", reference: reference, [("n", count)])
    }
}

/// Each job GETs a small page from nginx on loopback; 2 workers.
func jobsFetchBenchmark(count: Int) throws {
    try require(["/usr/sbin/nginx"])
    let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("evy-bench-fetch-\(UUID())")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    try Data(String(repeating: "<p>Evy fetch benchmark page</p>\n", count: 44).utf8)
        .write(to: root.appendingPathComponent("page.html"))
    let nginx = try Nginx.start(root: root, cpu: 0, seconds: roleSeconds)
    defer { nginx.stop() }
    let url = "http://127.0.0.1:\(nginx.port)/page.html"
    let reference = dramatiq("fetch", count: 5000, extra: ["--url", url])["jobs-fetch"]
    attempt("jobs-fetch", source: "evy") {
        let system = try JobSystem(workers: 2, handlers: "fetch")
        defer { system.stop() }
        let run = try submitAndWait(system, count: count, handler: "fetch", payload: Array(url.utf8))
        if run.failed > 0 { throw BenchmarkFailure("\(run.failed) fetches failed") }
        report(
            "jobs-fetch", Double(count) / run.total, unit: "jobs/s", reference: reference,
            [("n", count), ("seconds", run.total)])
    }
}

/// One job at a time: submit → recorded → the client told; p50 and p99.
func jobsLatencyBenchmark(rounds: Int) throws {
    let reference = dramatiq("latency", count: 1000)
    attempt("jobs-latency", source: "evy") {
        let system = try JobSystem(workers: 2)
        defer { system.stop() }
        // Each round: the whole path, and its first part (submit → acknowledged once journaled).
        let (samples, acknowledged) = try system.withClient { client in
            var samples: [Double] = [], acknowledged: [Double] = []
            for round in 0..<(rounds + 50) {
                let start = ContinuousClock.now
                let job = try await client.submit("noop")
                let submitted = ContinuousClock.now
                _ = try await client.wait(for: job, timeout: .seconds(10))
                if round >= 50 {
                    samples.append(seconds(ContinuousClock.now - start) * 1e6)
                    acknowledged.append(seconds(submitted - start) * 1e6)
                }
            }
            return (samples.sorted(), acknowledged.sorted())
        }
        func quantile(_ sorted: [Double], _ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        for (name, q) in [("jobs-latency-p50", 0.5), ("jobs-latency-p99", 0.99)] {
            report(
                name, quantile(samples, q), unit: "us", reference: reference[name], lowerIsBetter: true,
                [("n", rounds), ("submit_acknowledged_us", quantile(acknowledged, q))])
        }
    }
}

/// Throughput with 1, 2 and 4 worker processes; then the CPU of an idle dispatcher with 1,000
/// simulated workers (green threads in this process, each with its own socket, heartbeating).
func jobsScaleBenchmark(count: Int) throws {
    for workers in [1, 2, 4] {
        attempt("jobs-scale", source: "evy") {
            let system = try JobSystem(workers: workers)
            defer { system.stop() }
            let run = try submitAndWait(system, count: count)
            report(
                "jobs-scale", Double(count) / run.total, unit: "jobs/s", reference: nil,
                [("workers", workers), ("n", count)])
        }
    }
    attempt("jobs-scale-idle", source: "evy") {
        let system = try JobSystem(workers: 0, collector: false)
        defer { system.stop() }
        let cpu = try idleDispatcherCPU(system, workers: 1000, seconds: 10)
        report(
            "jobs-scale-idle", cpu * 100, unit: "% of a core", reference: nil, [("workers", 1000), ("seconds", 10)])
    }
}

/// The dispatcher's CPU share over `seconds` while `workers` simulated workers, all connected,
/// heartbeat once a second and answer nothing else.
private func idleDispatcherCPU(_ system: JobSystem, workers: Int, seconds window: Int) throws -> Double {
    let (endpoint, clientEndpoint) = (system.workerEndpoint, system.clientEndpoint)
    let pid = system.dispatcher.pid
    return try Hub.run {
        let context = try ZMQContext(maxSockets: Int32(workers + 16))
        let stop = Flag()
        let ready = Ready(
            role: .worker, name: "idle", host: "bench", pid: UInt32(getpid()), slots: 10,
            heartbeatMilliseconds: 1000, handlers: ["noop"], held: [])
        var threads: [GreenThread<Void>] = []
        for _ in 0..<workers {
            threads.append(
                spawn {
                    guard let socket = try? ZMQSocket(.dealer, context: context) else { return }
                    defer { socket.close(linger: .zero) }
                    try? socket.setLinger(.zero)
                    guard (try? socket.connect(endpoint)) != nil else { return }
                    try? await socket.sendMultipart(MessageCodec.encode(.ready(ready)))
                    // Heartbeats out every second; whatever comes in is read and dropped.
                    let reader = spawn { while (try? await socket.receiveMultipart()) != nil {} }
                    defer { reader.cancel() }
                    while !stop.isSet {
                        _ = try? await stop.wait(timeout: .seconds(1))
                        try? await socket.sendMultipart(MessageCodec.encode(.heartbeat), timeout: .seconds(1))
                    }
                })
        }
        let client = try JobClient(dispatcher: clientEndpoint)
        defer { client.close() }
        try await withTimeout(.seconds(60), label: "\(workers) simulated workers to connect") {
            while try await JobSystem.status(client)["workers"].flatMap({ ($0 as? [Any])?.count }) != workers {
                try await sleep(for: .milliseconds(100))
            }
        }
        try await sleep(for: .seconds(2))  // past the connection burst
        let before = try processCPUSeconds(pid)
        let started = ContinuousClock.now
        try await sleep(for: .seconds(Int64(window)))
        let used = try processCPUSeconds(pid) - before
        let elapsed = seconds(ContinuousClock.now - started)
        stop.set()
        for thread in threads { _ = try? await thread.wait() }
        return used / elapsed
    }
}

/// Submission rate to a dispatcher with no jobs queued, then with `deep` queued (for a handler no
/// worker serves), and the dispatcher's resident memory then.
func jobsDeepBenchmark(deep: Int) throws {
    attempt("jobs-deep", source: "evy") {
        let system = try JobSystem(workers: 0, collector: false)
        defer { system.stop() }
        let sample = 100_000
        let rates = try system.withClient { client in
            func rate(_ count: Int) async throws -> Double {
                let jobs = [(handler: String, payload: [UInt8], options: JobOptions)](
                    repeating: ("parked", [], JobOptions()), count: count)
                let start = ContinuousClock.now
                _ = try await client.submitMany(jobs, window: 5000)
                return Double(count) / seconds(ContinuousClock.now - start)
            }
            let empty = try await rate(sample)
            var queued = sample
            while queued < deep {
                let batch = min(200_000, deep - queued)
                _ = try await rate(batch)
                queued += batch
            }
            return (empty, try await rate(sample))
        }
        let resident = try residentMegabytes(system.dispatcher.pid)
        report("jobs-deep", rates.0, unit: "submits/s", reference: nil, [("queued", 0), ("n", sample)])
        report(
            "jobs-deep", rates.1, unit: "submits/s", reference: nil,
            [
                ("queued", deep), ("n", sample), ("slowdown_percent", (1 - rates.1 / rates.0) * 100),
                ("dispatcher_rss_mb", resident),
            ])
    }
}

/// Every job scenario, default sizes.
func jobsBenchmarks() throws {
    try jobsNoopBenchmark(count: 200_000)
    try jobsEnqueueBenchmark(count: 200_000)
    try jobsFetchBenchmark(count: 20_000)
    try jobsLatencyBenchmark(rounds: 2000)
    try jobsScaleBenchmark(count: 50_000)
    try jobsDeepBenchmark(deep: 1_000_000)
}

// MARK: Process figures

/// User + system CPU seconds of process `pid` so far (/proc/PID/stat).
func processCPUSeconds(_ pid: Int32) throws -> Double {
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // The fields after the command name, which is in parentheses and may hold spaces.
    guard let close = stat.lastIndex(of: ")") else { throw BenchmarkFailure("unreadable /proc/\(pid)/stat") }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
        throw BenchmarkFailure("unreadable /proc/\(pid)/stat")
    }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The resident memory of process `pid` in MB (VmRSS of /proc/PID/status).
private func residentMegabytes(_ pid: Int32) throws -> Double {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
        let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else { throw BenchmarkFailure("no VmRSS for \(pid)") }
    return kilobytes / 1024
}

// MARK: The crawler pipeline

/// The 20,000-page site of `evy-bench crawl` (nginx), crawled through the job system: the real
/// dispatcher, collector and two `crawl.fetch` workers as processes over tcp, the crawl driven from
/// this process; next to the one-process crawler of `evy-bench crawl` (what distribution costs)
/// and Scrapy (Benchmarks/crawl/scrapy_crawl.py) in the same run. Best of `rounds` each.
func crawlDistributedBenchmark(pages: Int, rounds: Int = 2) throws {
    try require(["/usr/sbin/nginx"])
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("evy-bench-site-\(getpid())")
    defer { try? FileManager.default.removeItem(at: root) }
    _ = try Child.run(
        ["python3", crawlScripts.appendingPathComponent("make_site.py").path, root.path, "\(pages)"], seconds: 300)
    let crawlSeconds = 60 + Double(pages) / 50
    let nginx = try Nginx.start(root: root, cpu: 1, seconds: crawlSeconds * Double(3 * rounds + 1))
    defer { nginx.stop() }
    let base = "http://127.0.0.1:\(nginx.port)"
    var best: [String: Double] = [:]
    for round in 0..<rounds {
        attempt("crawl-distributed", source: "evy") {
            let system = try JobSystem(workers: 2, handlers: "crawl.fetch")
            defer { system.stop() }
            let summary = try system.withClient { client in
                let crawl = Crawl(client: client, id: "bench-\(round)", seeds: [base + "/p/0.html"])
                crawl.perHost = 200
                return try await crawl.run()
            }
            guard summary.statuses[200] == pages else {
                throw BenchmarkFailure("\(summary.statuses[200] ?? 0) of \(pages) pages fetched")
            }
            best["evy", default: 0] = max(best["evy", default: 0], Double(pages) / summary.seconds)
        }
        if ProcessInfo.processInfo.environment["EVY_BENCH_NO_REFERENCE"] == "1" { continue }
        attempt("crawl-distributed", source: "evy-one-process") {
            let output = try Child.run([CommandLine.arguments[0], "--crawl", base, "100", "\(pages)"], seconds: crawlSeconds)
            guard let rate = jsonValue(output) else { throw BenchmarkFailure("no result") }
            best["evy-one-process", default: 0] = max(best["evy-one-process", default: 0], rate)
        }
        attempt("crawl-distributed", source: "scrapy") {
            let script = crawlScripts.appendingPathComponent("scrapy_crawl.py").path
            let output = try Child.run(["python3", script, base, "\(pages)"], seconds: crawlSeconds, quiet: true)
            guard let rate = jsonValue(output) else { throw BenchmarkFailure("no result (is scrapy installed?)") }
            best["scrapy", default: 0] = max(best["scrapy", default: 0], rate)
        }
    }
    for source in ["scrapy", "evy-one-process"] where best[source] != nil {
        print(json([("name", "crawl-distributed"), ("source", source), ("value", best[source]!), ("unit", "pages/s")]))
    }
    guard let evy = best["evy"] else { return }
    var fields: [(String, Any)] = [
        ("name", "crawl-distributed"), ("source", "evy"), ("value", evy), ("unit", "pages/s"), ("pages", pages),
        ("processes", "dispatcher, collector, 2 workers"),
    ]
    if let scrapy = best["scrapy"] { fields += [("ratio", evy / scrapy), ("ratio_reference", "scrapy")] }
    if let one = best["evy-one-process"] { fields.append(("ratio_one_process", evy / one)) }
    print(json(fields))
}
