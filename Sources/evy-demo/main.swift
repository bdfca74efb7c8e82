// evy-demo: green threads at work, with timings. Run it with `scripts/run`.
//
// 1. 100,000 green threads spawned and joined.
// 2. A GreenPool of 1,000 mapping over 100,000 inputs with imap (ordered, memory-bounded).
// 3. A producer/consumer pipeline through a bounded Queue, with task_done/join.
// 4. A timeout interrupting a slow wait, and blocking work moved to tpool while a ticker runs.
import Evy
import Foundation

func report(_ title: String, _ elapsed: Duration, _ detail: String) {
    let ms = String(format: "%9.1f ms", milliseconds(elapsed))
    print(title.padding(toLength: 56, withPad: " ", startingAt: 0) + ms + "   " + detail)
}

func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) / 1e15
}

let greenThreads = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 100_000

try Hub.run {
    print("Evy green threads on a libuv hub (\(ProcessInfo.processInfo.activeProcessorCount) cores)\n")

    // 1. Spawn and join.
    var start = ContinuousClock.now
    let threads = (0..<greenThreads).map { i in spawn { i &* 2 } }
    var sum = 0
    for thread in threads { sum &+= try await thread.wait() }
    var elapsed = start.duration(to: .now)
    report(
        "spawn + wait \(greenThreads) green threads", elapsed,
        String(format: "%.2f µs each", milliseconds(elapsed) * 1e3 / Double(greenThreads)) + " (sum \(sum))")

    // 2. Pool imap: each item sleeps 1 ms; 1,000 at a time.
    start = .now
    let pool = GreenPool(size: 1_000)
    var inOrder = true
    var expected = 0
    var count = 0
    for try await value in pool.imap(
        0..<greenThreads,
        { i in
            try await sleep(for: .milliseconds(1))
            return i
        })
    {
        inOrder = inOrder && value == expected
        expected += 1
        count += 1
    }
    elapsed = start.duration(to: .now)
    report(
        "GreenPool(1000).imap over \(greenThreads) sleeps of 1 ms", elapsed,
        "\(count) results, in order: \(inOrder)")

    // 3. Producer/consumer through a bounded queue.
    start = .now
    let queue = Queue<Int>(maxSize: 100)
    let consumed = Counter()
    for _ in 0..<10 {
        spawnN {
            for try await item in queue {
                consumed.add(item)
                try queue.taskDone()
            }
        }
    }
    for item in 1...greenThreads { try await queue.put(item) }
    try await queue.join()
    elapsed = start.duration(to: .now)
    report(
        "10 consumers, bounded Queue(100), \(greenThreads) items", elapsed,
        "sum \(consumed.value) (expected \(greenThreads * (greenThreads + 1) / 2))")

    // 4. Timeouts and tpool.
    start = .now
    let answer = try await withTimeout(.milliseconds(50), orElse: "timed out") {
        try await sleep(for: .seconds(10))
        return "finished"
    }
    elapsed = start.duration(to: .now)
    report("withTimeout(50 ms) around a 10 s sleep", elapsed, answer)

    start = .now
    let ticks = Counter()
    let ticker = spawn(name: "ticker") {
        for _ in 0..<10 {
            try await sleep(for: .milliseconds(10))
            ticks.add(1)
        }
    }
    let blocked = try await tpool.execute { () -> String in
        usleep(100_000)  // a blocking call, on a real thread
        return "done"
    }
    try await ticker.wait()
    elapsed = start.duration(to: .now)
    report(
        "tpool.execute(100 ms blocking) + 10 ms ticker", elapsed,
        "blocking call \(blocked), ticker ticked \(ticks.value)/10 meanwhile")
}

/// A counter shared by the demo's green threads (all on one hub: no lock needed).
final class Counter: @unchecked Sendable {
    private(set) var value = 0
    func add(_ amount: Int) { value += amount }
}
