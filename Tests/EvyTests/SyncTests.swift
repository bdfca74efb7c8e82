import EvyTestSupport
import XCTest

@testable import Evy

final class EventTests: XCTestCase {
    func testManyWaitersGetTheValueAndLateWaitersGetItAtOnce() throws {
        try green {
            let event = Event<String>()
            let waiters = (0..<5).map { _ in spawn { try await event.wait() } }
            try await waitUntil("five waiters") { event.waitingCount == 5 }
            XCTAssertFalse(event.isReady)
            try event.send("go")
            for waiter in waiters {
                let value = try await waiter.wait()
                XCTAssertEqual(value, "go")
            }
            let late = try await event.wait()
            XCTAssertEqual(late, "go")
            XCTAssertThrowsError(try event.send("again")) { XCTAssertEqual($0 as? SynchronizationError, .alreadySent) }
            event.reset()
            XCTAssertFalse(event.isReady)
            try event.send("second")
            let second = try await event.wait()
            XCTAssertEqual(second, "second")
        }
    }

    func testSendErrorIsThrownToWaiters() throws {
        try green {
            let event = Event<Int>()
            spawnN { try event.send(error: Boom(code: 5)) }
            do {
                _ = try await event.wait()
                XCTFail("expected an error")
            } catch let error as Boom {
                XCTAssertEqual(error.code, 5)
            }
            XCTAssertTrue(event.hasError)
        }
    }

    func testWaitTimeoutAndCancellation() throws {
        try green {
            let event = Event<Int>()
            do {
                _ = try await event.wait(timeout: .milliseconds(5))
                XCTFail()
            } catch is TimeoutError {}
            let waiter = spawn { try await event.wait() }
            try await waitUntil("the waiter waits") { event.waitingCount == 1 }
            await waiter.kill()
            do {
                _ = try await waiter.wait()
                XCTFail()
            } catch is CancellationError {}
            try event.send(1)  // a cancelled waiter does not swallow the value
            let value = try await event.wait()
            XCTAssertEqual(value, 1)
        }
    }

    func testFlagSetClearWait() throws {
        try green {
            let flag = Flag()
            let timedOut = try await flag.wait(timeout: .milliseconds(5))
            XCTAssertFalse(timedOut)
            let waiter = spawn { try await flag.wait() }
            try await waitUntil("the waiter waits") { flag.waitingCount == 1 }
            flag.set()
            let woke = try await waiter.wait()
            XCTAssertTrue(woke)
            XCTAssertTrue(flag.isSet)
            flag.clear()
            XCTAssertFalse(flag.isSet)
        }
    }
}

final class SemaphoreAndLockTests: XCTestCase {
    func testSemaphoreLimitsConcurrency() throws {
        let peak = try green {
            let semaphore = Semaphore(3)
            let active = Box(0)
            let peak = Box(0)
            let threads = (0..<20).map { _ in
                spawn {
                    try await semaphore.withPermit {
                        active.value += 1
                        peak.value = max(peak.value, active.value)
                        try await sleep(for: .milliseconds(1))
                        active.value -= 1
                    }
                }
            }
            for thread in threads { try await thread.wait() }
            XCTAssertEqual(semaphore.value, 3)
            return peak.value
        }
        XCTAssertEqual(peak, 3)
    }

    func testSemaphoreWakesInFIFOOrderAndReportsBalance() throws {
        try green {
            let semaphore = Semaphore(0)
            let order = Box<[Int]>([])
            for i in 0..<3 {
                spawnN {
                    try await semaphore.acquire()
                    order.value.append(i)
                }
            }
            try await waitUntil("three acquirers wait") { semaphore.balance == -3 }
            XCTAssertEqual(semaphore.balance, -3)
            XCTAssertFalse(semaphore.tryAcquire())
            for _ in 0..<3 { semaphore.release() }
            try await waitUntil("three acquired") { order.value.count == 3 }
            XCTAssertEqual(order.value, [0, 1, 2])
        }
    }

    func testAcquireTimeoutReturnsFalseAndCancellationThrows() throws {
        try green {
            let semaphore = Semaphore(0)
            let acquired = try await semaphore.acquire(timeout: .milliseconds(5))
            XCTAssertFalse(acquired)
            let waiter = spawn { try await semaphore.acquire() }
            try await waitUntil("the acquirer waits") { semaphore.balance == -1 }
            await waiter.kill()
            semaphore.release()
            // The permit was not lost to the killed waiter.
            XCTAssertTrue(semaphore.tryAcquire())
        }
    }

    func testBoundedSemaphoreRefusesOverRelease() throws {
        try green {
            let semaphore = BoundedSemaphore(2)
            try await semaphore.acquire()
            try semaphore.release()
            XCTAssertThrowsError(try semaphore.release()) {
                XCTAssertEqual($0 as? SynchronizationError, .releasedTooOften)
            }
            XCTAssertEqual(semaphore.value, 2)
        }
    }

    func testLockExcludesAcrossWaitsAndRejectsReleaseWhenUnlocked() throws {
        let log = try green {
            let lock = Lock()
            let log = Box<[String]>([])
            let threads = ["a", "b"].map { name in
                spawn {
                    try await lock.withLock {
                        log.value.append("\(name)+")
                        try await sleep(for: .milliseconds(2))
                        log.value.append("\(name)-")
                    }
                }
            }
            for thread in threads { try await thread.wait() }
            XCTAssertFalse(lock.isLocked)
            XCTAssertThrowsError(try lock.release())
            XCTAssertTrue(lock.tryAcquire())
            let second = try await lock.acquire(timeout: .milliseconds(2))
            XCTAssertFalse(second)
            try lock.release()
            return log.value
        }
        XCTAssertEqual(log, ["a+", "a-", "b+", "b-"])
    }

    func testRLockIsReentrantAndOwned() throws {
        try green {
            let lock = RLock()
            try await lock.acquire()
            try await lock.acquire()
            XCTAssertTrue(lock.isOwnedByCurrentGreenThread)
            let other = spawn { () async throws -> Bool in
                XCTAssertThrowsError(try lock.release()) { XCTAssertEqual($0 as? SynchronizationError, .notOwner) }
                return try await lock.acquire(timeout: .milliseconds(5))
            }
            let otherGotIt = try await other.wait()
            XCTAssertFalse(otherGotIt)
            try lock.release()
            XCTAssertTrue(lock.isLocked, "still held once")
            try lock.release()
            XCTAssertFalse(lock.isLocked)
            let third = spawn { try await lock.acquire(timeout: .milliseconds(50)) }
            let thirdGotIt = try await third.wait()
            XCTAssertTrue(thirdGotIt)
        }
    }

    func testConditionNotifyAndNotifyAll() throws {
        try green {
            let condition = Condition()
            let items = Box<[Int]>([])
            let consumed = Box<[Int]>([])
            let consumers = (0..<3).map { _ in
                spawn {
                    try await condition.withLock {
                        while items.value.isEmpty { try await condition.wait() }
                        consumed.value.append(items.value.removeFirst())
                    }
                }
            }
            try await waitUntil("three consumers wait") { condition.waitingCount == 3 }
            try await condition.withLock {
                items.value.append(1)
                try condition.notify()
            }
            try await waitUntil("one consumed") { !consumed.value.isEmpty }
            XCTAssertEqual(consumed.value, [1])
            try await condition.withLock {
                items.value += [2, 3]
                try condition.notifyAll()
            }
            for consumer in consumers { try await consumer.wait() }
            XCTAssertEqual(consumed.value.sorted(), [1, 2, 3])
        }
    }

    func testConditionMisuseTimeoutAndCancellationKeepTheLockConsistent() throws {
        try green {
            let condition = Condition(lock: Lock())
            XCTAssertThrowsError(try condition.notify()) { XCTAssertEqual($0 as? SynchronizationError, .notOwner) }
            do {
                _ = try await condition.wait()
                XCTFail()
            } catch let error as SynchronizationError {
                XCTAssertEqual(error, .notOwner)
            }
            try await condition.acquire()
            let notified = try await condition.wait(timeout: .milliseconds(5))
            XCTAssertFalse(notified)
            try condition.release()  // the lock was taken back after the timeout

            let waiter = spawn { try await condition.withLock { try await condition.wait() } }
            try await waitUntil("the waiter waits") { condition.waitingCount == 1 }
            await waiter.kill()
            // The killed waiter re-took and released the lock: it is free.
            let free = try await condition.acquire(timeout: .milliseconds(50))
            XCTAssertTrue(free)
            try condition.release()
            let done = try await condition.withLock { try await condition.wait(for: { true }) }
            XCTAssertTrue(done)
        }
    }
}

final class ChannelTests: XCTestCase {
    func testSendWaitsForAReceiverAndValuesArriveInOrder() throws {
        try green {
            let channel = Channel<Int>()
            let sentAll = Box(false)
            spawnN {
                for i in 1...3 { try await channel.send(i) }
                sentAll.value = true
            }
            try await waitUntil("the sender waits") { channel.balance == 1 }
            XCTAssertFalse(sentAll.value, "nothing is buffered")
            XCTAssertEqual(channel.balance, 1)
            var received: [Int] = []
            for _ in 1...3 { received.append(try await channel.receive()) }
            XCTAssertEqual(received, [1, 2, 3])
        }
    }

    func testSendErrorAndTimeouts() throws {
        try green {
            let channel = Channel<Int>()
            spawnN { try await channel.send(error: Boom(code: 8)) }
            do {
                _ = try await channel.receive()
                XCTFail()
            } catch let error as Boom { XCTAssertEqual(error.code, 8) }
            do {
                _ = try await channel.receive(timeout: .milliseconds(3))
                XCTFail()
            } catch is TimeoutError {}
            do {
                try await channel.send(1, timeout: .milliseconds(3))
                XCTFail()
            } catch is TimeoutError {}
            XCTAssertEqual(channel.balance, 0, "timed-out parties are gone")
            // A killed receiver does not take a value.
            let receiver = spawn { try await channel.receive() }
            try await waitUntil("the receiver waits") { channel.balance == -1 }
            await receiver.kill()
            spawnN { try await channel.send(42) }
            let value = try await channel.receive(timeout: .seconds(1))
            XCTAssertEqual(value, 42)
        }
    }
}

final class GreenActorTests: XCTestCase {
    func testMessagesAreProcessedInOrderWithoutBlockingSenders() throws {
        let seen = try green { () -> [Int] in
            let seen = Box<[Int]>([])
            let actor = GreenActor<Int> { message in
                try await sleep(for: .milliseconds(1))
                seen.value.append(message)
            }
            for i in 0..<20 { actor.cast(i) }
            XCTAssertEqual(actor.pending, 20, "cast does not wait: nothing was handled while sending")
            try await actor.waitUntilIdle(timeout: .seconds(5))
            XCTAssertEqual(actor.pending, 0)
            actor.stop()
            return seen.value
        }
        XCTAssertEqual(seen, Array(0..<20))
    }

    func testConcurrencyAndErrorsDoNotStopTheActor() throws {
        try green {
            let active = Box(0)
            let peak = Box(0)
            let done = Box(0)
            let actor = GreenActor<Int>(concurrency: 3) { message in
                active.value += 1
                peak.value = max(peak.value, active.value)
                defer { active.value -= 1 }
                try await sleep(for: .milliseconds(2))
                if message == 4 { throw Boom(code: 4) }
                done.value += 1
            }
            for i in 0..<10 { actor.cast(i) }
            try await actor.waitUntilIdle(timeout: .seconds(5))
            XCTAssertEqual(peak.value, 3)
            XCTAssertEqual(done.value, 9, "the failing message is logged, the others processed")
            actor.stop()
        }
    }
}

final class CappedSemaphoreTests: XCTestCase {
    func testReleaseWaitsAtTheLimitAndAcquireAtZero() throws {
        try green {
            let semaphore = CappedSemaphore(1, limit: 2)
            try await semaphore.release()
            XCTAssertEqual(semaphore.value, 2)
            let overflow = try await semaphore.release(timeout: .milliseconds(5))
            XCTAssertFalse(overflow, "release waits at the limit")
            let releaser = spawn { try await semaphore.release() }
            try await waitUntil("the releaser waits") { semaphore.balance == 1 }
            XCTAssertFalse(releaser.isDone)
            try await semaphore.acquire()
            try await releaser.wait(timeout: .seconds(1))
            XCTAssertEqual(semaphore.value, 2)
            try await semaphore.acquire()
            try await semaphore.acquire()
            let underflow = try await semaphore.acquire(timeout: .milliseconds(5))
            XCTAssertFalse(underflow, "acquire waits at zero")
        }
    }
}

final class ResourcePoolTests: XCTestCase {
    func testCreatesOnDemandUpToMaxAndReusesItems() throws {
        try green {
            let created = Box(0)
            let pool = try await ResourcePool(minSize: 1, maxSize: 2) { () async throws -> Int in
                created.value += 1
                return created.value
            }
            XCTAssertEqual(created.value, 1)
            let a = try await pool.get()
            let b = try await pool.get()
            XCTAssertEqual(Set([a, b]), [1, 2])
            do {
                _ = try await pool.get(timeout: .milliseconds(5))
                XCTFail("all items are out")
            } catch is TimeoutError {}
            let waiter = spawn { try await pool.get() }
            try await waitUntil("the getter waits") { pool.waiting == 1 }
            XCTAssertEqual(pool.waiting, 1)
            pool.put(a)
            let handed = try await waiter.wait()
            XCTAssertEqual(handed, a, "a returned item goes straight to the waiter")
            pool.put(b)
            pool.put(handed)
            let value = try await pool.withItem { $0 * 10 }
            XCTAssertTrue(value == 10 || value == 20)
            XCTAssertEqual(created.value, 2, "items are reused")
        }
    }

    func testDiscardFreesAPlaceAndCreateErrorsPropagate() throws {
        try green {
            let attempts = Box(0)
            let pool = try await ResourcePool(maxSize: 1) { () async throws -> String in
                attempts.value += 1
                if attempts.value == 2 { throw Boom(code: 2) }
                return "item\(attempts.value)"
            }
            let first = try await pool.get()
            pool.discard(first)
            do {
                _ = try await pool.get()
                XCTFail()
            } catch let error as Boom { XCTAssertEqual(error.code, 2) }
            let third = try await pool.get()
            XCTAssertEqual(third, "item3")
            XCTAssertEqual(pool.currentSize, 1)
        }
    }
}

final class CancelIfNotStartedTests: XCTestCase {
    func testOnlyUnstartedGreenThreadsAreCancelled() throws {
        try green {
            let ran = Box(false)
            let unstarted = spawn { ran.value = true }
            XCTAssertTrue(unstarted.cancelIfNotStarted())
            do {
                try await unstarted.wait()
                XCTFail()
            } catch is CancellationError {}
            XCTAssertFalse(ran.value)

            let started = Box(false)
            let running = spawn {
                started.value = true
                try await sleep(for: .milliseconds(5))
                return 1
            }
            try await waitUntil("it started") { started.value }
            XCTAssertFalse(running.cancelIfNotStarted())
            let value = try await running.wait()
            XCTAssertEqual(value, 1)
        }
    }
}

/// Regressions found in review.
final class ReviewRegressionTests: XCTestCase {
    func testEventSendThenResetInOneTurnStillDeliversToWaiters() throws {
        let values = try green { () -> [Int] in
            let event = Event<Int>()
            let waiters = (0..<3).map { _ in spawn { try await event.wait() } }
            try await waitUntil("three waiters") { event.waitingCount == 3 }
            try event.send(7)
            event.reset()
            var values: [Int] = []
            for waiter in waiters { values.append(try await waiter.wait()) }
            return values
        }
        XCTAssertEqual(values, [7, 7, 7])
    }

    func testPollingAQueueWithTimeoutsDoesNotGrowItsWaiterList() throws {
        try green {
            let queue = Queue<Int>()
            for _ in 0..<500 {
                _ = try? await queue.get(timeout: .zero)
            }
            XCTAssertLessThan(queue.getters.entries.count, 200, "timed-out getters are purged")
            XCTAssertEqual(queue.waitingGetters, 0)
            try queue.putNowait(1)
            let one = try await queue.get()
            XCTAssertEqual(one, 1)
        }
    }

    func testTwoConditionsOverOneLock() throws {
        try green {
            let lock = Lock()
            let notEmpty = Condition(lock: lock)
            let notFull = Condition(lock: lock)
            try await notEmpty.withLock {
                try notFull.notify()  // the same lock: this green thread holds it
                let timedOut = try await notEmpty.wait(timeout: .milliseconds(2))
                XCTAssertFalse(timedOut)
            }
            XCTAssertFalse(lock.isLocked)
        }
    }

    func testWithTimeoutLetsTheBodysOwnErrorThrough() throws {
        try green {
            do {
                try await withTimeout(.milliseconds(2)) {
                    do { try await sleep(for: .seconds(10)) } catch { throw Boom(code: 13) }
                }
                XCTFail("expected the body's error")
            } catch let error as Boom {
                XCTAssertEqual(error.code, 13)
            }
        }
    }

    func testActorStopReleasesWaitUntilIdle() throws {
        try green {
            let handling = Box(false)
            let actor = GreenActor<Int> { _ in
                handling.value = true
                try await sleep(for: .seconds(10))
            }
            for i in 0..<5 { actor.cast(i) }
            try await waitUntil("the first message is handled") { handling.value }
            actor.stop()
            try await waitUntil("the actor's loop sees its cancellation") { actor.pending <= 1 }
            XCTAssertEqual(actor.pending, 1, "queued messages dropped; the running one remains")
        }
    }

    func testResourcePoolNeverExceedsMaxSizeWhenAPlaceFrees() throws {
        try green {
            let created = Box(0)
            let pool = try await ResourcePool(maxSize: 1) { () async throws -> Int in
                created.value += 1
                try await sleep(for: .milliseconds(1))
                return created.value
            }
            let first = try await pool.get()
            let waiter = spawn { try await pool.get() }
            try await waitUntil("the getter waits") { pool.waiting == 1 }
            pool.discard(first)  // the waiter gets the freed place...
            let latecomer = spawn { try await pool.get(timeout: .milliseconds(20)) }  // ...not this one
            _ = try await waiter.wait()
            do {
                _ = try await latecomer.wait()
                XCTFail("the pool had no room")
            } catch is TimeoutError {}
            XCTAssertEqual(pool.currentSize, 1)
            XCTAssertEqual(created.value, 2)
        }
    }

    func testThreadPoolStartsAThreadPerQueuedJob() throws {
        // Job 1 blocks until job 2 runs: with two threads it must finish.
        try green {
            let pool = ThreadPool(size: 2)
            var pair: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&pair), 0)
            let fds = pair
            defer {
                close(fds[0])
                close(fds[1])
            }
            let warmUp = try await pool.execute { 1 }  // one idle thread now
            XCTAssertEqual(warmUp, 1)
            let reader = spawn {
                try await pool.execute { () -> Int in
                    var byte: UInt8 = 0
                    return read(fds[0], &byte, 1)
                }
            }
            let writer = spawn {
                try await pool.execute { () -> Int in
                    var byte: UInt8 = 1
                    return write(fds[1], &byte, 1)
                }
            }
            let wrote = try await writer.wait(timeout: .seconds(5))
            let readCount = try await reader.wait(timeout: .seconds(5))
            XCTAssertEqual(wrote, 1)
            XCTAssertEqual(readCount, 1)
        }
    }
}

/// `ResourcePool`'s connection-pool options (Eventlet's `db_pool`) with real resources: TCP
/// connections to a listener this test runs, which counts them opening and closing.
final class ResourcePoolLifetimeTests: XCTestCase {
    /// A listener counting connections accepted and closed by their peer.
    private final class Server: @unchecked Sendable {
        var accepted = 0
        var closed = 0
        let listener: Socket

        init() throws {
            listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { [self] in
                while let (connection, _) = try? await listener.accept() {
                    accepted += 1
                    spawnN { [self] in
                        while let bytes = try? await connection.receive(maxLength: 64), !bytes.isEmpty {}
                        closed += 1
                        connection.close()
                    }
                }
            }
        }

        var address: SocketAddress { listener.localAddress! }
    }

    private static func pool(
        _ server: Server, maxIdle: Duration? = nil, maxAge: Duration? = nil, closes: Box<Int>
    ) async throws -> ResourcePool<Socket> {
        let address = server.address
        return try await ResourcePool(
            maxSize: 4, maxIdle: maxIdle, maxAge: maxAge,
            close: { socket in
                closes.value += 1
                socket.close()
            }
        ) { try await connect(to: address) }
    }

    func testConnectionsIdleLongerThanMaxIdleAreClosed() throws {
        try green(deadline: .seconds(20)) {
            let server = try Server()
            let closes = Box(0)
            let pool = try await Self.pool(server, maxIdle: .milliseconds(100), closes: closes)
            let (first, second) = (try await pool.get(), try await pool.get())
            pool.put(first)
            pool.put(second)
            try await waitUntil("both idle connections closed", timeout: .seconds(5)) { server.closed == 2 }
            XCTAssertEqual(closes.value, 2, "through the close hook")
            XCTAssertEqual(pool.currentSize, 0)
            let fresh = try await pool.get()
            XCTAssertEqual(server.accepted, 3, "a new connection for the next taker")
            pool.discard(fresh)
            try await waitUntil("a discarded connection closed", timeout: .seconds(5)) { server.closed == 3 }
        }
    }

    func testAConnectionOlderThanMaxAgeIsClosedWhenItComesBack() throws {
        try green(deadline: .seconds(20)) {
            let server = try Server()
            let closes = Box(0)
            let pool = try await Self.pool(server, maxAge: .milliseconds(150), closes: closes)
            let young = try await pool.get()
            pool.put(young)
            let again = try await pool.get()
            XCTAssertTrue(again === young, "reused while young")
            try await sleep(for: .milliseconds(200))  // the item's age is what is under test
            pool.put(again)
            try await waitUntil("the old connection closed", timeout: .seconds(5)) { server.closed == 1 }
            XCTAssertEqual(pool.currentSize, 0)
            let next = try await pool.get()
            XCTAssertFalse(next === young, "replaced by a new one")
            XCTAssertEqual(server.accepted, 2)
            pool.put(next)
        }
    }

    func testACreationSlowerThanConnectTimeoutFailsAndFreesItsPlace() throws {
        try green(deadline: .seconds(20)) {
            let pool = try await ResourcePool(maxSize: 1, connectTimeout: .milliseconds(50)) { () async throws -> Int in
                try await sleep(for: .seconds(30))
                return 1
            }
            do {
                _ = try await pool.get()
                XCTFail("a creation past connectTimeout fails")
            } catch is TimeoutError {}
            XCTAssertEqual(pool.currentSize, 0, "its place is free again")
            XCTAssertEqual(pool.free, 1)
        }
    }
}
