import EvyTestSupport
import Foundation
import Glibc
import Synchronization
import XCTest

@testable import Evy

final class FutureTests: XCTestCase {
    func testTaskPoolExecutorSubmitResultAndErrors() throws {
        try green {
            let executor = TaskPoolExecutor(maxWorkers: 2)
            let ok = try executor.submit {
                try await sleep(for: .milliseconds(2))
                return "ok"
            }
            let bad = try executor.submit { () async throws -> String in throw Boom(code: 2) }
            let value = try await ok.result(timeout: .seconds(5))
            XCTAssertEqual(value, "ok")
            let error = try await bad.error()
            XCTAssertEqual(error as? Boom, Boom(code: 2))
            do {
                _ = try await bad.result()
                XCTFail()
            } catch is Boom {}
            XCTAssertTrue(ok.isDone && bad.isDone)
        }
    }

    func testCancelBeforeStartAndNotAfter() throws {
        try green {
            let executor = TaskPoolExecutor(maxWorkers: 1)
            let gate = Flag()
            let first = try executor.submit { try await gate.wait() }
            let second = try executor.submit { 2 }
            try await waitUntil("the first runs") { first.isRunning }
            XCTAssertTrue(first.isRunning)
            XCTAssertFalse(first.cancel(), "running work cannot be cancelled")
            XCTAssertTrue(second.cancel())
            XCTAssertTrue(second.isCancelled && second.isDone)
            do {
                _ = try await second.result()
                XCTFail()
            } catch is CancellationError {}
            gate.set()
            _ = try await first.result()
            try await executor.shutdown()
        }
    }

    func testResultTimeoutAndDoneCallbacks() throws {
        try green {
            let executor = TaskPoolExecutor()
            let slow = try executor.submit {
                try await sleep(for: .milliseconds(30))
                return 1
            }
            do {
                _ = try await slow.result(timeout: .milliseconds(3))
                XCTFail()
            } catch is TimeoutError {}
            let called = Flag()
            slow.addDoneCallback { future in
                XCTAssertTrue(future.isDone)
                called.set()
            }
            _ = try await slow.result()
            try await called.wait(timeout: .seconds(1))
            XCTAssertTrue(called.isSet)
        }
    }

    func testMapKeepsOrderAndShutdownRefusesNewWork() throws {
        try green {
            let executor = TaskPoolExecutor(maxWorkers: 4)
            let squares = try await executor.map(0..<20) { i in
                try await sleep(for: .milliseconds(Int64(20 - i)))
                return i * i
            }.collect()
            XCTAssertEqual(squares, (0..<20).map { $0 * $0 })
            try await executor.shutdown(wait: true)
            XCTAssertThrowsError(try executor.submit { 1 }) { XCTAssertEqual($0 as? ExecutorError, .shutDown) }
        }
    }

    func testWaitConditionsAndCompletedOrder() throws {
        try green {
            let executor = TaskPoolExecutor()
            let futures = try [30, 5, 15].map { ms in
                try executor.submit {
                    try await sleep(for: .milliseconds(Int64(ms)))
                    return ms
                }
            }
            let (firstDone, firstPending) = try await Future.wait(for: futures, returnWhen: .firstCompleted)
            XCTAssertEqual(firstDone.count, 1)
            XCTAssertEqual(firstPending.count, 2)
            var order: [Int] = []
            for try await future in Future.completed(futures) { order.append(try await future.result()) }
            XCTAssertEqual(order, [5, 15, 30])
            let (done, notDone) = try await Future.wait(for: futures)
            XCTAssertEqual(done.count, 3)
            XCTAssertTrue(notDone.isEmpty)

            let failing = try executor.submit { () async throws -> Int in throw Boom() }
            let slow = try executor.submit {
                try await sleep(for: .seconds(60))
                return 0
            }
            let (withError, _) = try await Future.wait(
                for: [slow, failing], timeout: .seconds(5), returnWhen: .firstException)
            XCTAssertTrue(withError.contains { $0 === failing })
            let (none, pending) = try await Future.wait(for: [slow], timeout: .milliseconds(5))
            XCTAssertTrue(none.isEmpty)
            XCTAssertEqual(pending.count, 1)
            do {
                for try await _ in Future.completed([slow], timeout: .milliseconds(5)) {}
                XCTFail("expected a timeout")
            } catch is TimeoutError {}
            XCTAssertTrue(slow.cancel() || slow.isRunning)
        }
    }

    func testThreadPoolExecutorRunsBlockingWorkOffTheHub() throws {
        try green {
            let executor = ThreadPoolExecutor(maxWorkers: 4)
            let futures = try (0..<8).map { i in
                try executor.submit { () -> Bool in
                    usleep(20_000)
                    return !Hub.main.isOnHubThread && i >= 0
                }
            }
            let ticks = Box(0)
            spawnN {
                for _ in 0..<5 {
                    try await sleep(for: .milliseconds(5))
                    ticks.value += 1
                }
            }
            for future in futures {
                let offHub = try await future.result(timeout: .seconds(10))
                XCTAssertTrue(offHub)
            }
            XCTAssertGreaterThanOrEqual(ticks.value, 3, "the hub kept running green threads meanwhile")
            let failing = try executor.submit { () throws -> Int in throw Boom(code: 6) }
            do {
                _ = try await failing.result()
                XCTFail()
            } catch let error as Boom { XCTAssertEqual(error.code, 6) }
            try await executor.shutdown()
        }
    }
}

final class ThreadPoolTests: XCTestCase {
    func testExecuteDoesNotBlockTheHub() throws {
        let (value, lateness) = try green {
            // A 10 ms ticker must stay on time while a 200 ms blocking call runs.
            let worst = Box(Duration.zero)
            let ticker = spawn {
                for _ in 0..<10 {
                    let before = ContinuousClock.now
                    try await sleep(for: .milliseconds(10))
                    worst.value = max(worst.value, before.duration(to: .now) - .milliseconds(10))
                }
            }
            let value = try await tpool.execute { () -> Int in
                usleep(200_000)
                return 99
            }
            try await ticker.wait()
            return (value, worst.value)
        }
        XCTAssertEqual(value, 99)
        XCTAssertLessThan(lateness, .milliseconds(150), "a blocked hub would make a tick ~200 ms late")
    }

    func testErrorsPropagateAndCallsAreReentrant() throws {
        try green {
            do {
                _ = try await tpool.execute { () throws -> Int in throw Boom(code: 12) }
                XCTFail()
            } catch let error as Boom {
                XCTAssertEqual(error.code, 12)
            }
            let nested = try await tpool.execute { () -> Bool in ThreadPool.isPoolThread }
            XCTAssertTrue(nested)
        }
    }

    func testManyConcurrentCallsAreBoundedByPoolSize() throws {
        try green {
            let pool = ThreadPool(size: 3)
            let active = Atomic<Int>(0)
            let peak = Atomic<Int>(0)
            let calls = (0..<12).map { _ in
                spawn {
                    try await pool.execute {
                        let now = active.add(1, ordering: .relaxed).newValue
                        var seen = peak.load(ordering: .relaxed)
                        while now > seen,
                            !peak.compareExchange(expected: seen, desired: now, ordering: .relaxed).exchanged
                        {
                            seen = peak.load(ordering: .relaxed)
                        }
                        usleep(5_000)
                        active.subtract(1, ordering: .relaxed)
                    }
                }
            }
            for call in calls { try await call.wait() }
            XCTAssertLessThanOrEqual(peak.load(ordering: .relaxed), 3)
            XCTAssertGreaterThanOrEqual(peak.load(ordering: .relaxed), 2)
        }
    }

    func testTimeoutStopsWaitingForABlockingCall() throws {
        try green {
            let start = ContinuousClock.now
            let result = try await withTimeout(.milliseconds(20), orElse: -1) {
                try await tpool.execute { () -> Int in
                    usleep(2_000_000)
                    return 1
                }
            }
            XCTAssertEqual(result, -1)
            XCTAssertLessThan(start.duration(to: .now), .seconds(1), "not waiting for the 2 s call")
        }
    }

    func testThreadPoolSizeComesFromTheEnvironment() {
        XCTAssertEqual(ThreadPool.size(fromEnvironment: [:]), 20)
        XCTAssertEqual(ThreadPool.size(fromEnvironment: ["EVY_THREADPOOL_SIZE": "7"]), 7)
        XCTAssertEqual(ThreadPool.size(fromEnvironment: ["EVY_THREADPOOL_SIZE": "0"]), 1)
        XCTAssertEqual(ThreadPool.size(fromEnvironment: ["EVY_THREADPOOL_SIZE": "many"]), 20)
    }
}
