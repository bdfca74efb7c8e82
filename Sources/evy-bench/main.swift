// evy-bench: Evy's benchmarks, one JSON object per line.
//
//   swift run -c release evy-bench NAME [N]     NAME: a scenario or `all`
//
// For each scenario it runs, each in a fresh process: Evy in the stable hub mode, Evy in
// green-the-world mode (the `evy-bench-green` binary beside this one), and the Python references
// Eventlet and gevent (Benchmarks/reference/green_reference.py, if importable). Evy's lines carry
// `ratio`: how many times better than gevent, measured in the same run (above 1: Evy wins).
import Evy
import EvyBenchmarks
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())

if arguments.first == "--run", arguments.count >= 3, let n = Int(arguments[2]) {
    // One scenario in this process, stable hub mode.
    let measurement = try Hub.run { try await Scenarios.run(arguments[1], n: n, source: "evy") }
    print(measurement.json)
    exit(0)
}

if arguments.first == "--echo-server", arguments.count >= 2 {
    try Hub.run { try await EchoServers.run(arguments[1]) }
    exit(0)
}

if arguments.first == "--crawl", arguments.count >= 4, let poolSize = Int(arguments[2]), let limit = Int(arguments[3]) {
    let parsers = arguments.count >= 5 ? Int(arguments[4]).map { ThreadPool(size: $0) } : nil
    try runCrawler(base: arguments[1], poolSize: poolSize, limit: limit, parsers: parsers)
    exit(0)
}

if arguments.first == "--http-hello" {
    try runHelloServer()
    exit(0)
}

if arguments.first == "--zmq-peer", arguments.count >= 5, let count = Int(arguments[3]), let size = Int(arguments[4]) {
    try Hub.run { try await ZMQPeer.run(role: arguments[1], endpoint: arguments[2], count: count, size: size) }
    exit(0)
}

let networkScenarios = [
    "echo", "idle-connections", "tls-handshake", "zmq-pushpull", "zmq-reqrep", "feeds", "crawl", "http-server",
    "crawl-distributed", "feeds-distributed", "chaos", "jobs", "jobs-noop", "jobs-enqueue", "jobs-fetch", "jobs-latency", "jobs-scale", "jobs-deep",
]
guard let name = arguments.first, name == "all" || Scenarios.names.contains(name) || networkScenarios.contains(name)
else {
    print("usage: evy-bench NAME [N]   NAME: all, \((Scenarios.names + networkScenarios).joined(separator: ", "))")
    exit(2)
}
// A network scenario or source that fails prints {"name": NAME, "error": ...}, and the exit
// status is then 1.
let size = arguments.dropFirst().first
switch name {
case "echo":
    attempt(name) { try echoBenchmark(seconds: size.flatMap { Double($0) } ?? 5) }
case "idle-connections":
    attempt(name) { try idleConnectionsBenchmark(count: size.flatMap { Int($0) } ?? 10_000) }
case "tls-handshake":
    attempt(name) { try tlsHandshakeBenchmark(seconds: size.flatMap { Double($0) } ?? 3) }
case "feeds":
    attempt(name) { try feedsBenchmark(seconds: size.flatMap { Double($0) } ?? 3) }
case "crawl":
    attempt(name) { try crawlBenchmark(pages: size.flatMap { Int($0) } ?? 20_000) }
case "http-server":
    attempt(name) { try httpServerBenchmark(seconds: size.flatMap { Int($0) } ?? 5) }
case "jobs":
    attempt(name) { try jobsBenchmarks() }
case "crawl-distributed":
    attempt(name) { try crawlDistributedBenchmark(pages: size.flatMap { Int($0) } ?? 20_000) }
case "chaos":
    // evy-bench chaos [SCENARIO|all] [JOBS] [RATE]
    // "all" is every scenario but the hour-long soak, which runs 1,000 jobs/s for an hour.
    let rest = Array(arguments.dropFirst())
    let every = chaosScenarioNames.filter { $0 != "soak" }
    let chosen = rest.first.map { $0 == "all" ? every : [$0] } ?? every
    let soaking = chosen == ["soak"]
    let jobs = rest.dropFirst().first.flatMap { Int($0) } ?? (soaking ? 3_600_000 : 50_000)
    let rate = rest.dropFirst(2).first.flatMap { Int($0) } ?? (soaking ? 1_000 : 2_000)
    for scenario in chosen { attempt(name, source: scenario) { try chaosScenario(scenario, jobs: jobs, rate: rate) } }
case "feeds-distributed":
    attempt(name) { try feedsDistributedBenchmark(feeds: size.flatMap { Int($0) } ?? 2000) }
case "jobs-noop":
    attempt(name) { try jobsNoopBenchmark(count: size.flatMap { Int($0) } ?? 200_000) }
case "jobs-enqueue":
    attempt(name) { try jobsEnqueueBenchmark(count: size.flatMap { Int($0) } ?? 200_000) }
case "jobs-fetch":
    attempt(name) { try jobsFetchBenchmark(count: size.flatMap { Int($0) } ?? 20_000) }
case "jobs-latency":
    attempt(name) { try jobsLatencyBenchmark(rounds: size.flatMap { Int($0) } ?? 2000) }
case "jobs-scale":
    attempt(name) { try jobsScaleBenchmark(count: size.flatMap { Int($0) } ?? 50_000) }
case "jobs-deep":
    attempt(name) { try jobsDeepBenchmark(deep: size.flatMap { Int($0) } ?? 1_000_000) }
case "zmq-pushpull", "zmq-reqrep":
    attempt(name) { try zmqBenchmarks(name, count: size.flatMap { Int($0) } ?? 1_000_000) }
default:
    break
}
if networkScenarios.contains(name) { exit(someAttemptFailed ? 1 : 0) }
let n = arguments.dropFirst().first.flatMap { Int($0) } ?? Scenarios.defaultN
let binDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
let referenceScript = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    .appendingPathComponent("Benchmarks/reference/green_reference.py")

/// Runs a command (killed after 300 s) and returns the value of the first JSON line it prints
/// that has one.
func measure(_ executable: String, _ arguments: [String]) -> (value: Double, unit: String)? {
    guard let output = try? Child.run([executable] + arguments, seconds: 300, quiet: true) else { return nil }
    for line in output.split(separator: "\n") {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let value = object["value"] as? Double, let unit = object["unit"] as? String
        else { continue }
        return (value, unit)
    }
    return nil
}

func line(
    _ name: String, _ source: String, _ result: (value: Double, unit: String), ratio: Double? = nil,
    reference: String? = nil
) -> String {
    Measurement(
        name: name, value: result.value, unit: result.unit, n: n, source: source, ratio: ratio,
        ratioReference: reference
    ).json
}

let scenarios = name == "all" ? Scenarios.names : [name]
defer {
    if name == "all" {
        attempt("echo") { try echoBenchmark(seconds: 5) }
        attempt("idle-connections") { try idleConnectionsBenchmark(count: 10_000) }
        attempt("tls-handshake") { try tlsHandshakeBenchmark(seconds: 3) }
        attempt("zmq-pushpull") { try zmqBenchmarks("zmq-pushpull", count: 1_000_000) }
        attempt("zmq-reqrep") { try zmqBenchmarks("zmq-reqrep", count: 20_000) }
        exit(someAttemptFailed ? 1 : 0)
    }
}
for scenario in scenarios {
    let pythonName = scenario.replacingOccurrences(of: "-", with: "_")
    var references: [(String, (value: Double, unit: String))] = []
    for library in ["eventlet", "gevent"] {
        if let result = measure("python3", [referenceScript.path, library, pythonName, String(n)]) {
            references.append((library, result))
            print(line(scenario, library, result))
        }
    }
    let gevent = references.first { $0.0 == "gevent" }?.1
    let runs: [(String, String, [String])] = [
        ("evy", CommandLine.arguments[0], ["--run", scenario, String(n)]),
        ("evy-green-world", binDirectory.appendingPathComponent("evy-bench-green").path, [scenario, String(n)]),
    ]
    for (source, executable, args) in runs {
        guard let result = measure(executable, args) else {
            print("{\"name\": \"\(scenario)\", \"source\": \"\(source)\", \"error\": \"did not run\"}")
            continue
        }
        var ratio: Double?
        if let gevent, gevent.value > 0, result.value > 0 {
            ratio = result.unit.hasSuffix("/s") ? result.value / gevent.value : gevent.value / result.value
        }
        print(line(scenario, source, result, ratio: ratio, reference: ratio == nil ? nil : "gevent"))
    }
}
