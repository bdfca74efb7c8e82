import Evy
import Foundation

/// Behaviour checks that must hold in both hub modes. The XCTest suite runs them in the stable
/// mode; `evy-selftest` runs them in green-the-world mode (where Swift's own executors are the
/// hub) and the suite checks its report.
public struct Scenario: Sendable {
    /// What is checked.
    public let name: String
    /// Whether it needs green-the-world mode (plain `Task {}`, `Task.sleep`, `@MainActor` on the hub).
    public let greenWorldOnly: Bool
    /// The check: throws ``ScenarioFailure`` (or any error) when the behaviour is wrong.
    public let check: @Sendable () async throws -> Void

    init(_ name: String, greenWorldOnly: Bool = false, _ check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.greenWorldOnly = greenWorldOnly
        self.check = check
    }
}

/// A failed expectation inside a scenario.
public struct ScenarioFailure: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ScenarioFailure(description: message()) }
}

final class Shared<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// Every scenario, in a stable order.
public let scenarios: [Scenario] = [
    Scenario("spawn and wait return values in order") {
        let threads = (0..<1_000).map { i in spawn { i * 3 } }
        var values: [Int] = []
        for thread in threads { values.append(try await thread.wait()) }
        try expect(values == (0..<1_000).map { $0 * 3 }, "wrong values")
    },
    Scenario("sleep never returns early and sleeps overlap") {
        let start = ContinuousClock.now
        let sleepers = (0..<100).map { _ in spawn { try await sleep(for: .milliseconds(20)) } }
        for sleeper in sleepers { try await sleeper.wait() }
        let elapsed = start.duration(to: .now)
        try expect(elapsed >= .milliseconds(20), "returned after \(elapsed)")
        try expect(elapsed < .seconds(5), "sleeps did not overlap: \(elapsed)")
    },
    Scenario("nested timeouts name the one that fired") {
        do {
            try await withTimeout(.milliseconds(10), label: "outer") {
                try await withTimeout(.seconds(30), label: "inner") { try await sleep(for: .seconds(30)) }
            }
            throw ScenarioFailure(description: "no timeout")
        } catch let error as TimeoutError {
            try expect(error.label == "outer", "fired: \(error)")
        }
        let fallback = try await withTimeout(.milliseconds(5), orElse: 7) {
            try await sleep(for: .seconds(30))
            return 1
        }
        try expect(fallback == 7, "fallback \(fallback)")
    },
    Scenario("killing a green thread interrupts its wait") {
        let queue = Queue<Int>()
        let getter = spawn { try await queue.get() }
        try await sleep(for: .milliseconds(1))
        await getter.kill()
        try queue.putNowait(1)
        try expect(queue.count == 1, "the killed getter took the item")
    },
    Scenario("bounded queue, consumers, task_done and join") {
        let queue = Queue<Int>(maxSize: 5)
        let total = Shared(0)
        for _ in 0..<4 {
            spawnN {
                for try await item in queue {
                    total.value += item
                    try queue.taskDone()
                }
            }
        }
        for item in 1...500 { try await queue.put(item) }
        try await queue.join()
        try expect(total.value == 125_250, "sum \(total.value)")
    },
    Scenario("channel ping-pong") {
        let ping = Channel<Int>()
        let pong = Channel<Int>()
        spawnN { for _ in 0..<1_000 { try await pong.send(try await ping.receive() + 1) } }
        var value = 0
        for _ in 0..<1_000 {
            try await ping.send(value)
            value = try await pong.receive()
        }
        try expect(value == 1_000, "value \(value)")
    },
    Scenario("pool imap is ordered and bounded") {
        let pool = GreenPool(size: 10)
        var results: [Int] = []
        for try await value in pool.imap(
            0..<300,
            { i in
                try await sleep(for: .milliseconds(Int64(i % 3)))
                return i
            })
        {
            results.append(value)
            try expect(pool.running <= 10, "pool overran: \(pool.running)")
        }
        try expect(results == Array(0..<300), "out of order")
    },
    Scenario("pile yields in spawn order, errors in place") {
        struct Oops: Error {}
        let pile = GreenPile<Int>(size: 4)
        for i in 0..<5 {
            try await pile.spawn {
                if i == 2 { throw Oops() }
                return i
            }
        }
        var seen: [String] = []
        while true {
            do {
                guard let value = try await pile.next() else { break }
                seen.append("\(value)")
            } catch { seen.append("error") }
        }
        try expect(seen == ["0", "1", "error", "3", "4"], "\(seen)")
    },
    Scenario("lock, condition and event") {
        let lock = Lock()
        let log = Shared<[Int]>([])
        let writers = (0..<3).map { i in
            spawn {
                try await lock.withLock {
                    log.value.append(i)
                    try await sleep(for: .milliseconds(1))
                    log.value.append(i)
                }
            }
        }
        for writer in writers { try await writer.wait() }
        try expect(log.value == [0, 0, 1, 1, 2, 2], "interleaved: \(log.value)")
        let condition = Condition()
        let ready = Shared(false)
        let waiter = spawn { try await condition.withLock { while !ready.value { try await condition.wait() } } }
        try await sleep(for: .milliseconds(1))
        try await condition.withLock {
            ready.value = true
            try condition.notifyAll()
        }
        try await waiter.wait(timeout: .seconds(5))
        let event = Event<String>()
        spawnN { try event.send("sent") }
        try expect(try await event.wait(timeout: .seconds(5)) == "sent", "event")
    },
    Scenario("tpool keeps the hub running") {
        let ticks = Shared(0)
        let ticker = spawn {
            for _ in 0..<5 {
                try await sleep(for: .milliseconds(10))
                ticks.value += 1
            }
        }
        let value = try await tpool.execute { () -> Int in
            usleep(80_000)
            return 5
        }
        try await ticker.wait()
        try expect(value == 5 && ticks.value == 5, "value \(value), ticks \(ticks.value)")
    },
    Scenario("futures from a green executor") {
        let executor = TaskPoolExecutor(maxWorkers: 3)
        let squares = try await executor.map(0..<10) { i in
            try await sleep(for: .milliseconds(1))
            return i * i
        }.collect()
        try expect(squares == (0..<10).map { $0 * $0 }, "\(squares)")
        try await executor.shutdown()
    },
    Scenario("a plain Task runs on the hub", greenWorldOnly: true) {
        let onHub = await Task { Hub.main.isOnHubThread }.value
        let detached = await Task.detached { Hub.main.isOnHubThread }.value
        try expect(onHub && detached, "Task on hub: \(onHub), detached: \(detached)")
    },
    Scenario("Task.sleep and task groups are green", greenWorldOnly: true) {
        let start = ContinuousClock.now
        let allOnHub = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(20))
                    return Hub.main.isOnHubThread
                }
            }
            return await group.reduce(true) { $0 && $1 }
        }
        let elapsed = start.duration(to: .now)
        try expect(allOnHub, "a child ran off the hub")
        try expect(elapsed >= .milliseconds(20) && elapsed < .seconds(5), "elapsed \(elapsed)")
    },
    Scenario("MainActor code runs on the hub", greenWorldOnly: true) {
        let onHub = await MainActor.run { Hub.main.isOnHubThread }
        try expect(onHub, "MainActor off the hub")
    },
    Scenario("Evy waits in plain tasks are cancellable", greenWorldOnly: true) {
        let queue = Queue<Int>()
        let task = Task { try await queue.get() }
        try await sleep(for: .milliseconds(1))
        task.cancel()
        do {
            _ = try await task.value
            throw ScenarioFailure(description: "the get was not cancelled")
        } catch is CancellationError {}
        try queue.putNowait(3)
        let value = try await Task { try await queue.get() }.value
        try expect(value == 3, "value \(value)")
    },
]

extension AsyncSequence {
    func collect() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}

/// Runs every scenario that applies and prints one line each plus a summary; returns the number
/// that failed.
public func runScenarios(greenWorld: Bool, print report: (String) -> Void = { print($0) }) async -> Int {
    var passed = 0
    var failed = 0
    for scenario in scenarios where greenWorld || !scenario.greenWorldOnly {
        do {
            try await withTimeout(.seconds(30), label: "scenario deadline") { try await scenario.check() }
            passed += 1
            report("ok    \(scenario.name)")
        } catch {
            failed += 1
            report("FAIL  \(scenario.name): \(error)")
        }
    }
    report("selftest (\(greenWorld ? "green-the-world" : "stable") mode): \(passed) passed, \(failed) failed")
    return failed
}
