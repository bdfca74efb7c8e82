import Evy
import Foundation

/// One benchmark result: a JSON line of `evy-bench`.
public struct Measurement: Sendable {
    /// The scenario's name.
    public var name: String
    /// The measured value.
    public var value: Double
    /// Its unit: `us`, `ns`, `bytes`, `items/s`.
    public var unit: String
    /// Iterations or green threads.
    public var n: Int
    /// Which hub mode, or which reference library, produced it.
    public var source: String
    /// Speed-up over the reference in `ratioReference` (above 1: Evy is better), if one ran.
    public var ratio: Double?
    /// The reference the ratio compares with.
    public var ratioReference: String?

    /// Creates a measurement.
    public init(
        name: String, value: Double, unit: String, n: Int, source: String, ratio: Double? = nil,
        ratioReference: String? = nil
    ) {
        self.name = name
        self.value = value
        self.unit = unit
        self.n = n
        self.source = source
        self.ratio = ratio
        self.ratioReference = ratioReference
    }

    /// Whether a larger value is better (throughput) rather than smaller (time, memory).
    public var higherIsBetter: Bool { unit.hasSuffix("/s") }

    /// The JSON line.
    public var json: String {
        var fields = [
            "\"name\": \"\(name)\"", "\"source\": \"\(source)\"",
            "\"value\": \(rounded(value))", "\"unit\": \"\(unit)\"", "\"n\": \(n)",
        ]
        if let ratio, let ratioReference {
            fields.append("\"ratio\": \(rounded(ratio))")
            fields.append("\"ratio_reference\": \"\(ratioReference)\"")
        }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    private func rounded(_ x: Double) -> String { String(format: "%.4g", x) }
}

/// The green-thread benchmarks, shared by `evy-bench` (stable hub mode) and `evy-bench-green`
/// (green-the-world mode). Each must be called from a green thread.
public enum Scenarios {
    /// Scenario names, as `evy-bench` takes them (and as the Python reference names them, with
    /// `-` for `_`).
    public static let names = ["spawn", "spawn-n", "switch-channel", "switch-queue", "memory", "imap"]

    /// Default size of each scenario, matching the Python reference script.
    public static let defaultN = 100_000

    /// Runs the scenario `name` with `n` iterations.
    public static func run(_ name: String, n: Int, source: String) async throws -> Measurement {
        switch name {
        case "spawn": return try await spawnAndWait(n: n, source: source)
        case "spawn-n": return try await spawnN(n: n, source: source)
        case "switch-channel": return try await switchThroughChannel(n: n, source: source)
        case "switch-queue": return try await switchThroughQueue(n: n, source: source)
        case "memory": return try await memoryPerGreenThread(n: n, source: source)
        case "imap": return try await imapThroughput(n: n, source: source)
        default: throw BenchmarkError.unknownScenario(name)
        }
    }

    /// Spawn `n` green threads returning a value, then wait for each: µs per spawn+wait.
    static func spawnAndWait(n: Int, source: String) async throws -> Measurement {
        let start = ContinuousClock.now
        var threads: [GreenThread<Int>] = []
        threads.reserveCapacity(n)
        for i in 0..<n { threads.append(spawn { i }) }
        var sum = 0
        for thread in threads { sum &+= try await thread.wait() }
        let elapsed = start.duration(to: .now)
        precondition(sum == n * (n - 1) / 2)
        return Measurement(name: "spawn", value: micros(elapsed) / Double(n), unit: "us", n: n, source: source)
    }

    /// Spawn `n` handle-less green threads that bump a counter, then yield until all ran.
    static func spawnN(n: Int, source: String) async throws -> Measurement {
        let counter = Counter()
        let start = ContinuousClock.now
        for _ in 0..<n { Evy.spawnN { counter.value += 1 } }
        while counter.value < n { try await sleep(for: .zero) }
        let elapsed = start.duration(to: .now)
        return Measurement(name: "spawn-n", value: micros(elapsed) / Double(n), unit: "us", n: n, source: source)
    }

    /// Two green threads ping-pong `n` times through a pair of channels: ns per switch.
    static func switchThroughChannel(n: Int, source: String) async throws -> Measurement {
        let ping = Channel<Int>()
        let pong = Channel<Int>()
        let echo = spawn {
            for _ in 0..<n { try await pong.send(try await ping.receive()) }
        }
        let start = ContinuousClock.now
        for i in 0..<n {
            try await ping.send(i)
            _ = try await pong.receive()
        }
        let elapsed = start.duration(to: .now)
        try await echo.wait()
        return Measurement(
            name: "switch-channel", value: nanos(elapsed) / Double(2 * n), unit: "ns", n: n, source: source)
    }

    /// The same ping-pong through two unbounded queues.
    static func switchThroughQueue(n: Int, source: String) async throws -> Measurement {
        let ping = Queue<Int>()
        let pong = Queue<Int>()
        let echo = spawn {
            for _ in 0..<n { try await pong.put(try await ping.get()) }
        }
        let start = ContinuousClock.now
        for i in 0..<n {
            try await ping.put(i)
            _ = try await pong.get()
        }
        let elapsed = start.duration(to: .now)
        try await echo.wait()
        return Measurement(
            name: "switch-queue", value: nanos(elapsed) / Double(2 * n), unit: "ns", n: n, source: source)
    }

    /// `n` green threads all waiting on one flag: resident memory growth per green thread.
    static func memoryPerGreenThread(n: Int, source: String) async throws -> Measurement {
        let gate = Flag()
        let started = Counter()
        let before = residentBytes()
        for _ in 0..<n {
            Evy.spawnN {
                started.value += 1
                try await gate.wait()
            }
        }
        while started.value < n { try await sleep(for: .zero) }
        let after = residentBytes()
        gate.set()
        try await sleep(for: .zero)
        return Measurement(
            name: "memory", value: Double(after - before) / Double(n), unit: "bytes", n: n, source: source)
    }

    /// `GreenPool(size: 100).imap` over `n` items that each yield once: items per second.
    static func imapThroughput(n: Int, source: String) async throws -> Measurement {
        let pool = GreenPool(size: 100)
        let start = ContinuousClock.now
        var count = 0
        for try await _ in pool.imap(
            0..<n,
            { i in
                try await sleep(for: .zero)
                return i * 2
            })
        { count += 1 }
        let elapsed = start.duration(to: .now)
        precondition(count == n)
        return Measurement(name: "imap", value: Double(n) / seconds(elapsed), unit: "items/s", n: n, source: source)
    }

    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
    static func micros(_ d: Duration) -> Double { seconds(d) * 1e6 }
    static func nanos(_ d: Duration) -> Double { seconds(d) * 1e9 }
}

/// A counter shared by green threads of one hub.
final class Counter: @unchecked Sendable {
    var value = 0
}

/// Errors of the benchmark driver.
public enum BenchmarkError: Error, CustomStringConvertible {
    /// No scenario has this name.
    case unknownScenario(String)

    public var description: String {
        switch self {
        case .unknownScenario(let name): "unknown scenario '\(name)'"
        }
    }
}
