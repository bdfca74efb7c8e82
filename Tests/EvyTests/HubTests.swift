import EvyTestSupport
import Foundation
import Glibc
import XCTest

@testable import Evy

final class HubTests: XCTestCase {
    func testRunReturnsBodyValueAndError() throws {
        XCTAssertEqual(try Hub.run { 42 }, 42)
        XCTAssertThrowsError(try Hub.run { () throws -> Int in throw Boom(code: 7) }) {
            XCTAssertEqual($0 as? Boom, Boom(code: 7))
        }
    }

    func testGreenThreadsRunOnTheHubThread() throws {
        let onHub = try green {
            let threads = (0..<10).map { _ in spawn { Hub.current.isOnHubThread } }
            var all = true
            for thread in threads { all = try await thread.wait() && all }
            return all && Hub.current.isOnHubThread
        }
        XCTAssertTrue(onHub)
    }

    func testCallSoonRunsInOrderAndCanBeCancelled() throws {
        let order = try green {
            let order = Box<[Int]>([])
            let hub = Hub.current
            hub.callSoon { order.value.append(1) }
            let cancelled = hub.callSoon { order.value.append(99) }
            hub.callSoon { order.value.append(2) }
            cancelled.cancel()
            XCTAssertTrue(cancelled.isCancelled)
            let ran = Flag()
            hub.callSoon { ran.set() }  // callbacks run in order: the ones before it have run
            try await ran.wait(timeout: .seconds(5))
            return order.value
        }
        XCTAssertEqual(order, [1, 2])
    }

    func testCallLaterAndCallAtFireInDeadlineOrderNeverEarly() throws {
        let (order, early) = try green {
            let order = Box<[String]>([])
            let early = Box(false)
            let hub = Hub.current
            let start = hub.now
            hub.callLater(.milliseconds(30)) {
                order.value.append("30ms")
                if start.duration(to: .now) < .milliseconds(30) { early.value = true }
            }
            hub.callAt(start.advanced(by: .milliseconds(10))) {
                order.value.append("10ms")
                if start.duration(to: .now) < .milliseconds(10) { early.value = true }
            }
            let never = hub.callLater(.milliseconds(20)) { order.value.append("cancelled") }
            never.cancel()
            try await sleep(for: .milliseconds(50))
            return (order.value, early.value)
        }
        XCTAssertEqual(order, ["10ms", "30ms"])
        XCTAssertFalse(early)
    }

    func testCallFromThreadIsTheThreadSafeEntry() throws {
        let ran = try green {
            let hub = Hub.current
            let done = Event<Bool>()
            let box = UncheckedSendable(done)
            Thread.detachNewThread {
                hub.callFromThread { try? box.value.send(hub.isOnHubThread) }
            }
            return try await done.wait(timeout: .seconds(5))
        }
        XCTAssertTrue(ran)
    }

    func testRunUntilIdleReturnsWhenNoWorkIsLeft() throws {
        let (fired, elapsed) = onNewThread { () -> (Int, Duration) in
            let hub = Hub()
            XCTAssertTrue(Hub.current === hub && hub !== Hub.main)
            let fired = Box(0)
            hub.callSoon { fired.value += 1 }
            hub.callLater(.milliseconds(5)) { fired.value += 1 }
            // A cancelled long timer must not keep the loop alive.
            hub.callLater(.seconds(60)) { fired.value += 100 }.cancel()
            let start = ContinuousClock.now
            hub.runUntilIdle()
            return (fired.value, start.duration(to: .now))
        }
        XCTAssertEqual(fired, 2)
        XCTAssertLessThan(elapsed, .seconds(30))
    }

    func testRunForeverUntilStopFromAnotherThread() throws {
        let ticks = onNewThread { () -> Int in
            let hub = Hub()
            let ticks = Box(0)
            hub.callLater(.milliseconds(5)) { ticks.value += 1 }
            Thread.detachNewThread {
                usleep(50_000)
                hub.stop()
            }
            hub.runForever()
            return ticks.value
        }
        XCTAssertEqual(ticks, 1)
    }

    func testEachThreadRunsItsOwnHub() throws {
        let values = onNewThread { () -> [Int] in
            (try? Hub.run {
                let threads = (0..<3).map { i in
                    spawn {
                        try await sleep(for: .milliseconds(1))
                        return i
                    }
                }
                var values: [Int] = []
                for thread in threads { values.append(try await thread.wait()) }
                return values
            }) ?? []
        }
        XCTAssertEqual(values, [0, 1, 2])
    }

    func testReadersAndWritersOnAPipe() throws {
        let received = try green {
            var fds: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&fds), 0)
            defer {
                close(fds[0])
                close(fds[1])
            }
            let hub = Hub.current
            let gotData = Event<String>()
            let writable = Flag()
            try hub.addWriter(fds[1]) { writable.set() }
            try hub.addReader(fds[0]) {
                var buffer = [UInt8](repeating: 0, count: 64)
                let n = read(fds[0], &buffer, 64)
                hub.removeReader(fds[0])
                try? gotData.send(String(decoding: buffer[0..<max(n, 0)], as: UTF8.self))
            }
            try await writable.wait(timeout: .seconds(5))
            XCTAssertTrue(hub.removeWriter(fds[1]))
            XCTAssertFalse(hub.removeWriter(fds[1]))
            _ = "hello".withCString { write(fds[1], $0, 5) }
            return try await gotData.wait(timeout: .seconds(5))
        }
        XCTAssertEqual(received, "hello")
    }

    func testAddReaderOnABadDescriptorThrows() throws {
        try green {
            XCTAssertThrowsError(try Hub.current.addReader(-1) {})
        }
    }

    func testSignalHandlersSeveralPerSignalAndIndividuallyRemovable() throws {
        let (first, second) = try green {
            let hub = Hub.current
            let first = Box(0)
            let second = Box(0)
            let got = Flag()
            let h1 = try hub.addSignalHandler(SIGUSR1) {
                first.value += 1
                got.set()
            }
            try hub.addSignalHandler(SIGUSR1) {
                second.value += 1
                got.set()
            }
            kill(getpid(), SIGUSR1)
            try await got.wait(timeout: .seconds(5))
            try await waitUntil("both handlers ran") { first.value > 0 && second.value > 0 }
            h1.cancel()
            got.clear()
            kill(getpid(), SIGUSR1)
            try await got.wait(timeout: .seconds(5))
            hub.removeSignalHandlers(SIGUSR1)
            return (first.value, second.value)
        }
        XCTAssertEqual(first, 1)
        XCTAssertEqual(second, 2)
    }

    func testBlockingDetectorNamesTheGreenThread() throws {
        let reports = Collector<BlockingReport>()
        try green {
            let hub = Hub.current
            hub.detectBlocking(threshold: .milliseconds(20)) { reports.append($0) }
            defer { hub.stopDetectingBlocking() }
            let blocker = spawn(name: "blocker") { usleep(200_000) }
            try await blocker.wait()
        }
        XCTAssertEqual(reports.all.count, 1, "one stall, one report")
        XCTAssertEqual(reports.all.first?.greenThread, "blocker")
        XCTAssertTrue(reports.all.first?.description.contains("blocker") ?? false)
    }

    func testBlockingDetectorThresholdFromTheEnvironment() {
        XCTAssertNil(BlockingDetector.threshold(fromEnvironment: [:]))
        XCTAssertNil(BlockingDetector.threshold(fromEnvironment: ["EVY_BLOCKING_DETECTOR_MS": "off"]))
        XCTAssertNil(BlockingDetector.threshold(fromEnvironment: ["EVY_BLOCKING_DETECTOR_MS": "0"]))
        XCTAssertEqual(
            BlockingDetector.threshold(fromEnvironment: ["EVY_BLOCKING_DETECTOR_MS": "150"]), .milliseconds(150))
    }

    func testBlockingDetectorQuietWhenGreenThreadsYield() throws {
        let reports = Collector<BlockingReport>()
        try green {
            let hub = Hub.current
            hub.detectBlocking(threshold: .milliseconds(50)) { reports.append($0) }
            defer { hub.stopDetectingBlocking() }
            for _ in 0..<20 { try await sleep(for: .milliseconds(5)) }
        }
        XCTAssertEqual(reports.all.count, 0)
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Runs `body` on a new thread and returns its result.
func onNewThread<T>(_ body: @escaping @Sendable () -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let box = UncheckedBox<T>()
    let thread = Thread {
        box.value = body()
        done.signal()
    }
    thread.start()
    done.wait()
    return box.value!
}

final class UncheckedBox<T>: @unchecked Sendable {
    var value: T?
}

final class TrampolineTests: XCTestCase {
    func testWaitForReadableAndWritableOnAPipe() throws {
        let (received, secondWaiterError) = try green { () -> (String, String) in
            var pair: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&pair), 0)
            let fds = pair
            defer {
                close(fds[0])
                close(fds[1])
            }
            let hub = Hub.current
            let reader = spawn { () async throws -> String in
                try await hub.wait(for: .readable, on: fds[0], timeout: .seconds(5))
                var buffer = [UInt8](repeating: 0, count: 16)
                let n = read(fds[0], &buffer, 16)
                return String(decoding: buffer[0..<max(n, 0)], as: UTF8.self)
            }
            try await waitUntil("the reader waits") { hub.hasWaiter(on: fds[0]) }
            var secondError = ""
            do { try await hub.wait(for: .readable, on: fds[0], timeout: .milliseconds(1)) } catch {
                secondError = "\(error)"
            }
            try await hub.wait(for: .writable, on: fds[1], timeout: .seconds(5))
            _ = "ping".withCString { write(fds[1], $0, 4) }
            return (try await reader.wait(), secondError)
        }
        XCTAssertEqual(received, "ping")
        XCTAssertTrue(secondWaiterError.contains("already waits"), secondWaiterError)
    }

    func testWaitTimesOutAndIsCancellableAndCleansUp() throws {
        try green {
            var pair: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&pair), 0)
            let fds = pair
            defer {
                close(fds[0])
                close(fds[1])
            }
            let hub = Hub.current
            do {
                try await hub.wait(for: .readable, on: fds[0], timeout: .milliseconds(5))
                XCTFail("nothing was written")
            } catch is TimeoutError {}
            let waiter = spawn { try await hub.wait(for: .readable, on: fds[0]) }
            try await waitUntil("the waiter waits") { hub.hasWaiter(on: fds[0]) }
            await waiter.kill()
            XCTAssertFalse(hub.removeReader(fds[0]), "the killed wait unregistered itself")
            // A new wait works after both.
            _ = "x".withCString { write(fds[1], $0, 1) }
            try await hub.wait(for: .readable, on: fds[0], timeout: .seconds(5))
        }
    }
}

final class DescriptorLifecycleTests: XCTestCase {
    func testReplacingAReaderKeepsWatching() throws {
        let fired = try green { () -> String in
            var pair: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&pair), 0)
            let fds = pair
            defer {
                close(fds[0])
                close(fds[1])
            }
            let hub = Hub.current
            let which = Event<String>()
            try hub.addReader(fds[0]) { try? which.send("old") }
            try hub.addReader(fds[0]) { try? which.send("new") }  // replaces it
            _ = "x".withCString { write(fds[1], $0, 1) }
            let value = try await which.wait(timeout: .seconds(5))
            XCTAssertTrue(hub.removeReader(fds[0]))
            return value
        }
        XCTAssertEqual(fired, "new")
    }

    func testNotifyCloseWakesTheWaiterAndFreesTheNumber() throws {
        try green {
            var pair: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&pair), 0)
            let fds = pair
            let hub = Hub.current
            let waiter = spawn { try await hub.wait(for: .readable, on: fds[0]) }
            try await waitUntil("the waiter waits") { hub.hasWaiter(on: fds[0]) }
            hub.notifyClose(fds[0])
            close(fds[0])
            do {
                try await waiter.wait(timeout: .seconds(5))
                XCTFail("expected an error")
            } catch let error as WatchError {
                XCTAssertEqual(error, .descriptorClosed(fd: fds[0]))
            }
            // The number is reused by the next pipe; watching it works.
            var next: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&next), 0)
            let again = next
            defer {
                close(again[0])
                close(again[1])
                close(fds[1])
            }
            try await hub.wait(for: .writable, on: again[1], timeout: .seconds(5))
        }
    }
}
