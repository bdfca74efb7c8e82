// `evy-bench chaos SCENARIO [JOBS] [RATE]` (scripts/chaos): the job system under faults, as
// separate processes over tcp, every job counted at the end.
import Dispatch
import Evy
import EvyCrawler
import EvyHTTP
import EvyJobs
import Foundation
import Glibc

/// The roles of one chaos run as processes on fixed loopback ports (so a restarted role is found
/// where it was), each startable, killable and restartable by its pid from the fault thread.
private final class ChaosRoles: @unchecked Sendable {
    let clients: String
    let workerEndpoint: String
    let results: String
    let readers: String
    let directory: URL
    private let lock = NSLock()
    private var dispatcher: Child?
    private var collector: Child?
    private var workers: [Child?]
    /// Where the workers run, if not on this host: their network namespace and the address of
    /// this host on the veth pair to it.
    let split: NetworkSplit?
    private let ports: [Int]

    init(workers count: Int, split: NetworkSplit? = nil, dataOnTmpfs: Bool = false) throws {
        ports = try freePorts(4)
        (clients, workerEndpoint, results, readers) = (
            "tcp://127.0.0.1:\(ports[0])", "tcp://127.0.0.1:\(ports[1])", "tcp://127.0.0.1:\(ports[2])",
            "tcp://127.0.0.1:\(ports[3])"
        )
        self.split = split
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("evy-chaos-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if dataOnTmpfs {
            // The dispatcher's journal on a small file system of its own, to fill.
            let data = directory.appendingPathComponent("d").path
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            guard run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", data]) == 0 else {
                throw BenchmarkFailure("cannot mount a tmpfs (needs root)")
            }
        }
        workers = Array(repeating: nil, count: count)
        try startDispatcher()
        try startCollector()
        for index in 0..<count { try startWorker(index) }
    }

    private static func start(_ name: String, _ arguments: [String], namespace: String? = nil) throws -> Child {
        let command = [executables.appendingPathComponent(name).path] + arguments
        // Killed at the deadline if still running: past the longest run (the hour of the soak).
        let child = try Child(
            namespace.map { ["ip", "netns", "exec", $0] + command } ?? command, seconds: 2 * 3600, quiet: true)
        guard child.readLine(containing: "\(name): ") != nil else { throw BenchmarkFailure("\(name) did not start") }
        return child
    }

    func startDispatcher() throws {
        let child = try Self.start(
            "evy-dispatcher",
            [
                "--client-endpoint", clients, "--worker-endpoint", split == nil ? workerEndpoint : "tcp://*:\(ports[1])",
                "--data-dir",
                directory.appendingPathComponent("d").path,
            ])
        lock.withLock { dispatcher = child }
    }

    func startCollector() throws {
        let child = try Self.start(
            "evy-collector",
            [
                "--result-endpoint", split == nil ? results : "tcp://*:\(ports[2])", "--client-endpoint", readers,
                "--dispatcher", workerEndpoint,
                "--data-dir", directory.appendingPathComponent("c").path,
            ])
        lock.withLock { collector = child }
    }

    func startWorker(_ index: Int) throws {
        let (dispatcher, collector) =
            split.map { ("tcp://\($0.hostAddress):\(ports[1])", "tcp://\($0.hostAddress):\(ports[2])") }
            ?? (workerEndpoint, results)
        let child = try Self.start(
            "evy-worker", ["--dispatcher", dispatcher, "--collector", collector, "--handlers", "noop,sleep,crawl.fetch"],
            namespace: split?.namespace)
        lock.withLock { workers[index] = child }
    }

    /// Sends `signal` to the role and waits for it to end (SIGKILL: at once).
    func signal(_ role: Role, _ signal: Int32) {
        let child: Child? = lock.withLock {
            switch role {
            case .dispatcher: defer { dispatcher = nil }; return dispatcher
            case .collector: defer { collector = nil }; return collector
            case .worker(let index): defer { workers[index] = nil }; return workers[index]
            }
        }
        guard let child else { return }
        kill(child.pid, signal)
        child.waitForExit()
    }

    enum Role { case dispatcher, collector, worker(Int) }

    func stop() {
        let all: [Child] = lock.withLock { workers.compactMap { $0 } + [collector, dispatcher].compactMap { $0 } }
        for child in all { child.stop() }
        _ = run(["umount", directory.appendingPathComponent("d").path])
        try? FileManager.default.removeItem(at: directory)
        split?.remove()
    }

    /// Resident memory (MB) and open descriptors of the dispatcher and the collector, now.
    func footprint() -> [String: [Double]] {
        let (dispatcherPid, collectorPid) = lock.withLock { (dispatcher?.pid, collector?.pid) }
        func measure(_ pid: Int32?) -> [Double] {
            guard let pid else { return [0, 0] }
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
                .flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Double($0) } } ?? 0
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
            return [rss / 1024, Double(fds)]
        }
        return ["dispatcher": measure(dispatcherPid), "collector": measure(collectorPid)]
    }

    /// Fills the dispatcher's tmpfs (all but nothing left), or frees it again.
    func fillDisk(_ full: Bool) {
        let filler = directory.appendingPathComponent("d/filler").path
        if full {
            _ = run(["dd", "if=/dev/zero", "of=\(filler)", "bs=1M", "count=64"])  // stops when the disk is full
        } else {
            try? FileManager.default.removeItem(atPath: filler)
        }
    }
}

/// A network namespace for the workers, joined to this host by a veth pair on RFC 5737 addresses
/// (198.51.100.1 here, .2 there, nothing routed elsewhere); its link can be cut and restored.
struct NetworkSplit: Sendable {
    let namespace: String
    let hostLink: String
    let hostAddress = "198.51.100.1"

    /// Makes the namespace and the link; throws if this host cannot (needs root and ip).
    static func make() throws -> NetworkSplit {
        let tag = "\(getpid() % 100_000)"
        let split = NetworkSplit(namespace: "evychaos\(tag)", hostLink: "evyc\(tag)h")
        let far = "evyc\(tag)w"
        for command in [
            ["ip", "netns", "add", split.namespace],
            ["ip", "link", "add", split.hostLink, "type", "veth", "peer", "name", far],
            ["ip", "link", "set", far, "netns", split.namespace],
            ["ip", "addr", "add", split.hostAddress + "/30", "dev", split.hostLink],
            ["ip", "-n", split.namespace, "addr", "add", "198.51.100.2/30", "dev", far],
            ["ip", "link", "set", split.hostLink, "up"], ["ip", "-n", split.namespace, "link", "set", far, "up"],
            ["ip", "-n", split.namespace, "link", "set", "lo", "up"],
        ] where run(command) != 0 {
            split.remove()
            throw BenchmarkFailure("\(command.joined(separator: " ")) failed (needs root)")
        }
        return split
    }

    /// Cuts (`up` false) or restores the link.
    func link(up: Bool) { _ = run(["ip", "link", "set", hostLink, up ? "up" : "down"]) }

    func remove() {
        _ = run(["ip", "link", "del", hostLink])
        _ = run(["ip", "netns", "del", namespace])
    }
}

/// Runs `command` (found on PATH) to its end, quietly; its exit status.
private func run(_ command: [String]) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = command
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    guard (try? process.run()) != nil else { return -1 }
    process.waitUntilExit()
    return process.terminationStatus
}

/// One chaos scenario: its name, what it does to the roles (on its own thread, `elapsed` telling
/// the seconds since the submits began), and the times of its faults.
private struct ChaosScenario: Sendable {
    let name: String
    let summary: String
    /// What the roles need: the workers in a namespace of their own, the journal on a tmpfs.
    var split = false
    var tmpfs = false
    let inject: @Sendable (ChaosRoles, @escaping @Sendable () -> Double, inout [Double]) throws -> Void
    /// Measured along the way (the soak's memory and descriptors), keyed by when.
    var samples: (@Sendable (ChaosRoles, _ planned: Double, @escaping @Sendable () -> Double) -> [(String, [Double])])? = nil
}

private func pause(until second: Double, _ elapsed: () -> Double) {
    while elapsed() < second { usleep(20_000) }
}

private let chaosScenarios: [ChaosScenario] = [
    ChaosScenario(name: "worker-kill", summary: "kill -9 a worker at 5 s, restart it") { roles, elapsed, faults in
        pause(until: 5, elapsed)
        faults.append(elapsed())
        roles.signal(.worker(0), SIGKILL)
        try roles.startWorker(0)
    },
    ChaosScenario(name: "two-workers", summary: "kill -9 two workers at once at 5 s, restart them") { roles, elapsed, faults in
        pause(until: 5, elapsed)
        faults.append(elapsed())
        roles.signal(.worker(0), SIGKILL)
        roles.signal(.worker(1), SIGKILL)
        try roles.startWorker(0)
        try roles.startWorker(1)
    },
    ChaosScenario(name: "worker-every-2s", summary: "kill -9 a worker every 2 s for 30 s, restarting each") {
        roles, elapsed, faults in
        for round in 0..<15 {
            pause(until: 2 + Double(round) * 2, elapsed)
            faults.append(elapsed())
            roles.signal(.worker(round % 3), SIGKILL)
            try roles.startWorker(round % 3)
        }
    },
    ChaosScenario(name: "worker-term", summary: "SIGTERM a worker at 5 s (it drains), start another") { roles, elapsed, faults in
        pause(until: 5, elapsed)
        faults.append(elapsed())
        roles.signal(.worker(0), SIGTERM)
        try roles.startWorker(0)
    },
    ChaosScenario(name: "dispatcher-kill", summary: "kill -9 the dispatcher at 5 s, restart it") { roles, elapsed, faults in
        pause(until: 5, elapsed)
        faults.append(elapsed())
        roles.signal(.dispatcher, SIGKILL)
        try roles.startDispatcher()
    },
    ChaosScenario(name: "network-split", summary: "the workers' link cut at 5 s for 10 s, then restored", split: true) {
        roles, elapsed, faults in
        pause(until: 5, elapsed)
        faults.append(elapsed())
        roles.split?.link(up: false)
        pause(until: 15, elapsed)
        roles.split?.link(up: true)
    },
    ChaosScenario(name: "disk-full", summary: "the dispatcher's disk filled at 5 s, freed at 12 s", tmpfs: true) {
        roles, elapsed, faults in
        pause(until: 5, elapsed)
        faults.append(elapsed())
        roles.fillDisk(true)
        pause(until: 12, elapsed)
        roles.fillDisk(false)
    },
    ChaosScenario(
        name: "soak", summary: "steady load with a worker killed every 60 s; memory and descriptors at start, middle, end",
        inject: { roles, elapsed, faults in
            // Kills every 60 s until the submits end (the runner passes how long through `soakSeconds`).
            var round = 0
            while elapsed() + 60 < soakPlannedSeconds.value {
                pause(until: Double(round + 1) * 60, elapsed)
                faults.append(elapsed())
                roles.signal(.worker(round % 3), SIGKILL)
                try roles.startWorker(round % 3)
                round += 1
            }
        },
        samples: { roles, planned, elapsed in
            // Each figure at the start, the middle and the end: [rss MB, descriptors] per role.
            var readings: [[String: [Double]]] = []
            for at in [10.0, planned / 2, planned - 5] {
                pause(until: at, elapsed)
                readings.append(roles.footprint())
            }
            return ["dispatcher", "collector"].flatMap { role in
                [("\(role)_rss_mb", readings.map { $0[role]![0] }), ("\(role)_fds", readings.map { $0[role]![1] })]
            }
        }),
    ChaosScenario(name: "collector-down", summary: "kill -9 the collector at 5 s, keep it down 30 s, restart it") {
        roles, elapsed, faults in
        pause(until: 5, elapsed)
        faults.append(elapsed())
        roles.signal(.collector, SIGKILL)
        pause(until: 35, elapsed)
        try roles.startCollector()
    },
]

/// The names of the chaos scenarios.
let chaosScenarioNames = chaosScenarios.map(\.name)

/// Runs the scenario `name`: 3 workers, `jobs` jobs (every fifth sleeps 10 ms, the rest are
/// no-ops) submitted at `rate` per second with dedup keys (a batch the dispatcher did not
/// acknowledge is submitted again, safely), the fault injected mid-run; then every job's outcome
/// is waited for and every recorded result read back. Prints one JSON line: jobs lost, recorded
/// twice, run again, the time until the last job re-run after a fault was recorded, the longest
/// pause in recording, and the throughput before and during the faults.
func chaosScenario(_ name: String, jobs: Int, rate: Int) throws {
    guard let scenario = chaosScenarios.first(where: { $0.name == name }) else {
        throw BenchmarkFailure("no scenario \(name); there are \(chaosScenarioNames.joined(separator: ", "))")
    }
    let roles = try ChaosRoles(
        workers: 3, split: scenario.split ? try NetworkSplit.make() : nil, dataOnTmpfs: scenario.tmpfs)
    defer { roles.stop() }
    let started = Date()
    let startMilliseconds = UInt64(started.timeIntervalSince1970 * 1000)
    let elapsed: @Sendable () -> Double = { Date().timeIntervalSince(started) }
    let faultTimes = FaultLog()
    soakPlannedSeconds.value = Double(jobs) / Double(rate)
    let samples = SampleLog()
    var sampler: Thread?
    if let measure = scenario.samples {
        let planned = soakPlannedSeconds.value
        let thread = Thread {
            samples.value = measure(roles, planned, elapsed)
            samples.done.signal()
        }
        thread.start()
        sampler = thread
    }
    let faultThread = Thread {
        var times: [Double] = []
        do { try scenario.inject(roles, elapsed, &times) } catch { faultTimes.error = "\(error)" }
        faultTimes.times = times
        faultTimes.done.signal()
    }
    faultThread.start()

    let (clients, readers) = (roles.clients, roles.readers)
    let run = UUID().uuidString.prefix(8)
    let refusals = FaultLog()
    let siteHost = roles.split?.hostAddress ?? "127.0.0.1"
    let crawlPages = 2000
    let outcome = try Hub.run {
        () -> (ids: Set<UInt64>, received: Int, results: [Recorded], submitted: Double, crawled: Int) in
        let client = try JobClient(dispatcher: clients, collector: readers)
        client.timeout = .seconds(3)
        defer { client.close() }
        // A crawl of a 2,000-page site through the same system, from 3 s on, across the fault.
        let site = HTTPServer(configuration: { var settings = HTTPServer.Configuration(); settings.accessLog = false; return settings }()) {
            request, _ in
            guard request.path.hasPrefix("/p/"), let n = Int(request.path.dropFirst(3)) else { return .text("", status: 404) }
            try await sleep(for: .milliseconds(40))
            let links = (1...5).map { "<a href=\"/p/\(($0 * 7 + n) % crawlPages)\">x</a>" }.joined()
            return HTTPResponse(headers: [("Content-Type", "text/html")], body: Array("<html><body>\(links)</body></html>".utf8))
        }
        let listener = try listen(on: SocketAddress(ip: siteHost, port: 0))
        spawnN { try await site.serve(listener) }
        let crawl = spawn { () -> Int in
            try await sleep(for: .seconds(3))
            var policy = CrawlPolicy()
            policy.maxDepth = 10_000
            let crawl = Crawl(
                client: client, id: "chaos-\(run)", seeds: ["http://\(siteHost):\(listener.localAddress!.port)/p/0"],
                policy: policy)
            crawl.perHost = 16
            return try await crawl.run().statuses[200] ?? 0
        }
        var ids: [UInt64] = []
        let batch = max(1, rate / 10)
        for first in stride(from: 0, to: jobs, by: batch) {
            let due = Double(first) / Double(rate)
            if elapsed() < due { try await sleep(for: .milliseconds(Int64((due - elapsed()) * 1000))) }
            let items = (first..<min(jobs, first + batch)).map { index in
                var options = JobOptions()
                options.dedupKey = "chaos:\(run):\(index)"
                return index % 5 == 0 ? ("sleep", Array("10".utf8), options) : ("noop", [UInt8](), options)
            }
            // Unacknowledged (the dispatcher is down, or died before its commit): again, until it
            // answers; the dedup keys make a second submit of an accepted job that job.
            let giveUp = ContinuousClock.now + .seconds(120)
            while true {
                do {
                    ids += try await client.submitMany(items, window: 1000)
                    break
                } catch let error as JobClientError where ContinuousClock.now < giveUp {
                    switch error {
                    case .refused(.busy, _), .noAnswer: break
                    case .refused(.storageUnavailable, let reason):  // a full disk: said clearly, nothing kept
                        refusals.times.append(elapsed())
                        if refusals.error == nil { refusals.error = reason }
                    default: throw error
                    }
                    try await sleep(for: .milliseconds(200))
                }
            }
        }
        let submitted = elapsed()
        let crawled = (try? await crawl.wait()) ?? -1
        // Every outcome, within 3 minutes of the last submit.
        client.timeout = .seconds(30)
        client.outcomeRefresh = .seconds(1)
        let accepted = Array(Set(ids))
        let received =
            (try? await withTimeout(.seconds(180), label: "every outcome") { () -> Set<UInt64> in
                var received = Set<UInt64>()
                for try await outcome in client.outcomes(of: accepted) { received.insert(outcome.job) }
                return received
            }) ?? []
        var results: [Recorded] = []
        var after: UInt64 = 0
        while true {
            let page = try JSONSerialization.jsonObject(
                with: Data(try await client.queryCollector("results", after: after, limit: 1000))) as? [String: Any]
            let items = page?["results"] as? [[String: Any]] ?? []
            if items.isEmpty { break }
            results += items.map {
                Recorded(job: number($0["job"]), attempt: number($0["attempt"]), recordedAt: number($0["recordedAt"]))
            }
            after = (page?["next"] as? UInt64) ?? UInt64(page?["next"] as? Int ?? 0)
        }
        await site.stop(grace: .zero)
        return (Set(ids), received.count, results, submitted, crawled)
    }
    faultTimes.done.wait()
    if sampler != nil { samples.done.wait() }
    if let error = faultTimes.error { throw BenchmarkFailure("injecting the fault: \(error)") }

    var perJob: [UInt64: Int] = [:]
    for result in outcome.results { perJob[result.job, default: 0] += 1 }
    let recordedTwice = perJob.values.filter { $0 > 1 }.count
    let lost = outcome.ids.subtracting(perJob.keys).count
    let reran = outcome.results.filter { $0.attempt > 1 }
    let seconds = { (result: Recorded) in (Double(result.recordedAt) - Double(startMilliseconds)) / 1000 }
    let firstFault = faultTimes.times.first ?? 0
    // Each re-run job against the last fault before it was recorded: how soon after a fault its
    // lost jobs were done again.
    let rerunLatency = reran.map(seconds).compactMap { at in faultTimes.times.last { $0 <= at }.map { at - $0 } }.max()
    let times = outcome.results.map(seconds).sorted()
    // Pauses while jobs were still being submitted (after that, the last re-runs make the tail).
    let pauses = zip(times.dropFirst(), times).map { (length: $0 - $1, at: $1) }.filter { $0.at < outcome.submitted }
    let longestPause = pauses.max { $0.length < $1.length } ?? (0, 0)
    func throughput(_ from: Double, _ to: Double) -> Double {
        Double(times.filter { $0 >= from && $0 < to }.count) / max(0.001, to - from)
    }
    let faultWindowEnd = min(outcome.submitted, (faultTimes.times.last ?? firstFault) + 5)
    print(
        json([
            ("name", "chaos"), ("scenario", name), ("what", scenario.summary), ("jobs", jobs),
            ("crawl_pages", crawlPages), ("crawl_pages_recorded_200", outcome.crawled),
            ("accepted", outcome.ids.count), ("outcomes", outcome.received), ("lost", lost),
            ("recorded_twice", recordedTwice), ("ran_again", reran.count),
            ("rerun_recorded_within_s", rerunLatency ?? 0),
            ("longest_recording_pause_s", longestPause.length), ("longest_pause_at_s", longestPause.at), ("jobs_per_s_before", throughput(1, firstFault)),
            ("jobs_per_s_during", throughput(firstFault, faultWindowEnd)), ("faults", faultTimes.times.count),
            ("submits_refused_full", refusals.times.count), ("refusal", refusals.error ?? ""),
        ] + samples.value.map { ($0.0, $0.1 as Any) }))
    fflushStandardOutput()
}

private func number(_ value: Any?) -> UInt64 {
    (value as? UInt64) ?? (value as? Int).map { UInt64($0) } ?? (value as? NSNumber)?.uint64Value ?? 0
}

/// One recorded result, as far as counting goes.
private struct Recorded: Sendable {
    var job: UInt64
    var attempt: UInt64
    var recordedAt: UInt64
}

/// The soak's planned length in seconds (its kills stop before the end).
private let soakPlannedSeconds = SharedDouble()

private final class SharedDouble: @unchecked Sendable {
    var value = 0.0
}

/// What the sampling thread reports back.
private final class SampleLog: @unchecked Sendable {
    var value: [(String, [Double])] = []
    let done = DispatchSemaphore(value: 0)
}

/// What the fault thread reports back.
private final class FaultLog: @unchecked Sendable {
    var times: [Double] = []
    var error: String?
    let done = DispatchSemaphore(value: 0)
}
