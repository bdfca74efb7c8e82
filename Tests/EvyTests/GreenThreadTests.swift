import EvyTestSupport
import Foundation
import Logging
import Synchronization
import XCTest

@testable import Evy

final class GreenThreadTests: XCTestCase {
    func testWaitReturnsValueOrRethrowsError() throws {
        try green {
            let ok = spawn { 5 }
            let bad = spawn { () throws -> Int in throw Boom(code: 3) }
            let okValue = try await ok.wait()
            XCTAssertEqual(okValue, 5)
            do {
                _ = try await bad.wait()
                XCTFail("expected an error")
            } catch let error as Boom {
                XCTAssertEqual(error.code, 3)
            }
            XCTAssertTrue(ok.isDone && bad.isDone)
        }
    }

    func testSpawnedThreadStartsOnlyWhenTheCallerYields() throws {
        try green {
            let started = Box(false)
            let thread = spawn { started.value = true }
            XCTAssertFalse(started.value, "cooperative: nothing runs until the caller waits")
            try await thread.wait()
            XCTAssertTrue(started.value)
        }
    }

    func testWaitWithTimeoutThrowsTimeoutErrorAndThreadKeepsRunning() throws {
        try green {
            let slow = spawn {
                try await sleep(for: .milliseconds(30))
                return "done"
            }
            do {
                _ = try await slow.wait(timeout: .milliseconds(5))
                XCTFail("expected a timeout")
            } catch is TimeoutError {}
            let value = try await slow.wait()
            XCTAssertEqual(value, "done")
        }
    }

    func testKillARunningThreadInterruptsItsWait() throws {
        try green {
            let started = Box(false)
            let cleanedUp = Box(false)
            let sleeper = spawn { () async throws -> Int in
                defer { cleanedUp.value = true }
                started.value = true
                try await sleep(for: .seconds(60))
                return 1
            }
            try await waitUntil("the sleeper sleeps") { started.value }
            let start = ContinuousClock.now
            await sleeper.kill()
            XCTAssertLessThan(start.duration(to: .now), .seconds(5))
            XCTAssertTrue(sleeper.isDone)
            XCTAssertTrue(cleanedUp.value)
            do {
                _ = try await sleeper.wait()
                XCTFail("a killed green thread has no value")
            } catch is CancellationError {}
        }
    }

    func testKillBeforeStartMeansTheBodyNeverRuns() throws {
        try green {
            let ran = Box(false)
            let thread = spawn { ran.value = true }
            thread.cancel()
            do { try await thread.wait() } catch is CancellationError {}
            XCTAssertFalse(ran.value)
        }
    }

    func testLinkCallbacksRunOnCompletionAndUnlinkRemovesThem() throws {
        try green {
            let seen = Box<[String]>([])
            let thread = spawn {
                try await sleep(for: .milliseconds(2))
                return 7
            }
            thread.link { result in seen.value.append("a:\((try? result.get()) ?? -1)") }
            let token = thread.link { _ in seen.value.append("b") }
            XCTAssertTrue(thread.unlink(token))
            XCTAssertFalse(thread.unlink(token))
            try await thread.wait()
            XCTAssertEqual(seen.value, ["a:7"])
            // Linking a finished thread still calls back (soon).
            let late = Flag()
            thread.link { _ in late.set() }
            try await late.wait(timeout: .seconds(1))
            XCTAssertTrue(late.isSet)
        }
    }

    func testNamesReachTheGreenThread() throws {
        let name = try green {
            try await spawn(name: "worker-1") { CurrentGreenThread.name }.wait()
        }
        XCTAssertEqual(name, "worker-1")
    }

    func testSpawnAfterStartsLaterAndCancelBeforeStartNeverRuns() throws {
        try green {
            let start = ContinuousClock.now
            let later = spawnAfter(.milliseconds(20)) { start.duration(to: .now) }
            let elapsed = try await later.wait()
            XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(20))

            let ran = Box(false)
            let never = spawnAfter(.milliseconds(10)) { ran.value = true }
            never.cancel()
            XCTAssertTrue(never.wasCancelledBeforeStart)
            try await sleep(for: .milliseconds(30))
            XCTAssertFalse(ran.value)
            do { try await never.wait() } catch is CancellationError {}
        }
    }

    func testSpawnNRunsAndLogsErrorsInsteadOfLosingThem() throws {
        TestLog.install()
        try green {
            let count = Box(0)
            for _ in 0..<100 { spawnN { count.value += 1 } }
            spawnN(name: "doomed") { throw Boom(code: 9) }
            try await waitUntil("all hundred ran") { count.value == 100 }
            XCTAssertEqual(count.value, 100)
        }
        XCTAssertTrue(
            TestLog.messages.contains { $0.contains("doomed") && $0.contains("Boom") },
            "logged: \(TestLog.messages)")
    }

    func testSleepZeroLetsOthersRun() throws {
        let order = try green {
            let order = Box<[String]>([])
            spawnN { order.value.append("other") }
            order.value.append("before")
            try await sleep(for: .zero)
            order.value.append("after")
            return order.value
        }
        XCTAssertEqual(order, ["before", "other", "after"])
    }

    func testManyGreenThreadsSleepConcurrently() throws {
        let elapsed = try green {
            let start = ContinuousClock.now
            let threads = (0..<2_000).map { _ in spawn { try await sleep(for: .milliseconds(50)) } }
            for thread in threads { try await thread.wait() }
            return start.duration(to: .now)
        }
        XCTAssertLessThan(elapsed, .seconds(5), "2,000 sleeps of 50 ms overlap")
    }

    func testLocalStorageIsPerGreenThread() throws {
        try green {
            let local = GreenLocal<String>()
            let a = spawn {
                local.value = "a"
                try await sleep(for: .milliseconds(2))
                return local.value
            }
            let b = spawn {
                local.value = "b"
                try await sleep(for: .milliseconds(1))
                return local.value
            }
            let c = spawn { local.value }
            let valueA = try await a.wait()
            let valueB = try await b.wait()
            let valueC = try await c.wait()
            XCTAssertEqual(valueA, "a")
            XCTAssertEqual(valueB, "b")
            XCTAssertNil(valueC)
            // A timeout's body belongs to the same green thread.
            local.value = "main"
            let inside = try await withTimeout(.seconds(1)) { local.value }
            XCTAssertEqual(inside, "main")
        }
    }
}

/// A log handler that keeps messages, installed once for the test process.
enum TestLog {
    private static let store = Mutex<[String]>([])
    private static let installed: Void = {
        LoggingSystem.bootstrap { _ in Handler() }
    }()

    static func install() { _ = installed }
    static var messages: [String] { store.withLock { $0 } }

    struct Handler: LogHandler {
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            TestLog.store.withLock { $0.append("\(event.message)") }
        }
    }
}
