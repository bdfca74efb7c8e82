import EvyTestSupport
import XCTest

@testable import Evy

final class QueueTests: XCTestCase {
    func testFIFOLIFOAndPriorityOrder() throws {
        try green {
            let fifo = Queue<Int>()
            let lifo = LifoQueue<Int>()
            let priority = PriorityQueue<Int>()
            for i in [3, 1, 2] {
                try await fifo.put(i)
                try await lifo.put(i)
                try await priority.put(i)
            }
            var f: [Int] = []
            var l: [Int] = []
            var p: [Int] = []
            for _ in 0..<3 {
                f.append(try await fifo.get())
                l.append(try await lifo.get())
                p.append(try await priority.get())
            }
            XCTAssertEqual(f, [3, 1, 2])
            XCTAssertEqual(l, [2, 1, 3])
            XCTAssertEqual(p, [1, 2, 3])
        }
    }

    func testPriorityQueueKeepsInsertionOrderForEqualPriorities() throws {
        struct Job: Comparable, Sendable {
            let priority: Int, name: String
            static func < (a: Job, b: Job) -> Bool { a.priority < b.priority }
        }
        let names = try green {
            let queue = PriorityQueue<Job>()
            for (p, n) in [(2, "x"), (1, "a"), (1, "b"), (1, "c")] { try queue.putNowait(Job(priority: p, name: n)) }
            var names: [String] = []
            while !queue.isEmpty { names.append(try queue.getNowait().name) }
            return names
        }
        XCTAssertEqual(names, ["a", "b", "c", "x"])
    }

    func testBoundedQueueBlocksPutUntilGetAndNowaitVariantsThrow() throws {
        try green {
            let queue = Queue<Int>(maxSize: 2)
            try await queue.put(1)
            try queue.putNowait(2)
            XCTAssertTrue(queue.isFull)
            XCTAssertThrowsError(try queue.putNowait(3)) { XCTAssertTrue($0 is QueueFull) }
            do {
                try await queue.put(3, timeout: .milliseconds(3))
                XCTFail()
            } catch is QueueFull {}
            let putter = spawn { try await queue.put(3) }
            try await waitUntil("the putter waits") { queue.waitingPutters == 1 }
            XCTAssertFalse(putter.isDone)
            XCTAssertEqual(queue.waitingPutters, 1)
            let first = try await queue.get()
            XCTAssertEqual(first, 1)
            try await putter.wait()
            XCTAssertEqual(queue.count, 2)
            XCTAssertEqual(try queue.getNowait(), 2)
            XCTAssertEqual(try queue.getNowait(), 3)
            XCTAssertThrowsError(try queue.getNowait()) { XCTAssertTrue($0 is QueueEmpty) }
            do {
                _ = try await queue.get(timeout: .milliseconds(3))
                XCTFail()
            } catch is QueueEmpty {}
        }
    }

    func testZeroSizeQueueHandsOffDirectly() throws {
        try green {
            let queue = Queue<String>(maxSize: 0)
            XCTAssertThrowsError(try queue.putNowait("x")) { XCTAssertTrue($0 is QueueFull) }
            let putter = spawn { try await queue.put("hand-off") }
            try await waitUntil("the putter waits") { queue.waitingPutters == 1 }
            XCTAssertFalse(putter.isDone)
            let value = try await queue.get()
            XCTAssertEqual(value, "hand-off")
            try await putter.wait()
            // A waiting getter takes a put at once.
            let getter = spawn { try await queue.get() }
            try await waitUntil("the getter waits") { queue.waitingGetters == 1 }
            try queue.putNowait("direct")
            let got = try await getter.wait()
            XCTAssertEqual(got, "direct")
        }
    }

    func testTaskDoneAndJoin() throws {
        try green {
            let queue = Queue<Int>()
            let processed = Box(0)
            for i in 0..<10 { try await queue.put(i) }
            XCTAssertEqual(queue.unfinishedTasks, 10)
            for _ in 0..<3 {
                spawnN {
                    for try await _ in queue {
                        try await sleep(for: .milliseconds(1))
                        processed.value += 1
                        try queue.taskDone()
                    }
                }
            }
            let joined = try await queue.join(timeout: .seconds(10))
            XCTAssertTrue(joined)
            XCTAssertEqual(processed.value, 10)
            XCTAssertThrowsError(try queue.taskDone()) { XCTAssertEqual($0 as? QueueError, .taskDoneTooOften) }
            try await queue.put(99)
            let joinedAgain = try await queue.join(timeout: .milliseconds(20))
            XCTAssertTrue(joinedAgain, "the consumers are still iterating")
        }
    }

    func testResizeAdmitsWaitingPutters() throws {
        try green {
            let queue = Queue<Int>(maxSize: 1)
            try await queue.put(0)
            let putters = (1...3).map { i in spawn { try await queue.put(i) } }
            try await waitUntil("three putters wait") { queue.waitingPutters == 3 }
            XCTAssertEqual(queue.waitingPutters, 3)
            queue.resize(maxSize: 4)
            for putter in putters { try await putter.wait() }
            XCTAssertEqual(queue.count, 4)
            queue.resize(maxSize: nil)
            XCTAssertFalse(queue.isFull)
        }
    }

    func testCancelledGetterDoesNotLoseAnItem() throws {
        try green {
            let queue = Queue<Int>()
            let getter = spawn { try await queue.get() }
            try await waitUntil("the getter waits") { queue.waitingGetters == 1 }
            XCTAssertEqual(queue.waitingGetters, 1)
            await getter.kill()
            try await queue.put(5)
            XCTAssertEqual(queue.count, 1)
            let value = try await queue.get()
            XCTAssertEqual(value, 5)
        }
    }

    func testProducerConsumerWithTimeoutAroundIteration() throws {
        let total = try green {
            let queue = Queue<Int>(maxSize: 10)
            spawnN { for i in 1...100 { try await queue.put(i) } }
            var sum = 0
            var iterator = queue.makeAsyncIterator()
            for _ in 1...100 { sum += try await iterator.next()! }
            let nothing = try await withTimeout(.milliseconds(5), orElse: nil) { try await queue.get() }
            XCTAssertNil(nothing)
            return sum
        }
        XCTAssertEqual(total, 5050)
    }
}
