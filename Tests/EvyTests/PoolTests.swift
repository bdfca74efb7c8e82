import EvyTestSupport
import XCTest

@testable import Evy

final class GreenPoolTests: XCTestCase {
    func testSpawnWaitsForAFreeSlot() throws {
        try green {
            let pool = GreenPool(size: 2)
            XCTAssertEqual(pool.free, 2)
            let gate = Flag()
            let a = try await pool.spawn { try await gate.wait() }
            let b = try await pool.spawn { try await gate.wait() }
            XCTAssertEqual(pool.running, 2)
            XCTAssertEqual(pool.free, 0)
            let third = spawn { try await pool.spawn { 3 }.wait() }
            try await waitUntil("a spawn waits for a slot") { pool.waiting == 1 }
            XCTAssertEqual(pool.waiting, 1)
            XCTAssertFalse(third.isDone)
            gate.set()
            let value = try await third.wait()
            XCTAssertEqual(value, 3)
            _ = try await (a.wait(), b.wait())
            try await pool.waitAll()
            XCTAssertEqual(pool.running, 0)
        }
    }

    func testWaitAllWaitsForEveryGreenThreadAndRefusesToDeadlock() throws {
        try green {
            let pool = GreenPool(size: 10)
            let finished = Box(0)
            for i in 0..<25 {
                try await pool.spawnN {
                    try await sleep(for: .milliseconds(i % 5))
                    finished.value += 1
                }
            }
            try await pool.waitAll()
            XCTAssertEqual(finished.value, 25)
            let inside = try await pool.spawn { () async throws -> Bool in
                do {
                    try await pool.waitAll()
                    return false
                } catch GreenPoolError.waitAllFromInside { return true }
            }
            let refused = try await inside.wait()
            XCTAssertTrue(refused)
        }
    }

    func testResizeFollowsEventletSemantics() throws {
        try green {
            let pool = GreenPool(size: 4)
            let gate = Flag()
            for _ in 0..<4 { try await pool.spawnN { try await gate.wait() } }
            pool.resize(2)
            XCTAssertEqual(pool.free, -2, "shrinking does not stop running green threads")
            let waiter = spawn { try await pool.spawn { 1 }.wait() }
            try await waitUntil("a spawn waits for a slot") { pool.waiting == 1 }
            XCTAssertFalse(waiter.isDone)
            pool.resize(6)
            let value = try await waiter.wait()
            XCTAssertEqual(value, 1)
            gate.set()
            try await pool.waitAll()
            XCTAssertEqual(pool.free, 6)
        }
    }

    func testSpawningIntoAFullPoolFromInsideRunsInlineInsteadOfDeadlocking() throws {
        // A recursive crawler (as in Examples/recursive-crawler): every job spawns more jobs into
        // the same pool.
        let visited = try green {
            let pool = GreenPool(size: 3)
            let visited = Box(Set<Int>())
            @Sendable func crawl(_ page: Int) async throws {
                guard visited.value.insert(page).inserted, page < 200 else { return }
                try await sleep(for: .zero)
                try await pool.spawnN { try await crawl(page * 2) }
                try await pool.spawnN { try await crawl(page * 2 + 1) }
            }
            try await pool.spawnN { try await crawl(1) }
            try await pool.waitAll()
            return visited.value.count
        }
        XCTAssertEqual(visited, 399)
    }

    func testImapKeepsInputOrderAndRunsConcurrently() throws {
        try green {
            let pool = GreenPool(size: 50)
            let start = ContinuousClock.now
            let results = try await pool.imap(0..<200) { i in
                try await sleep(for: .milliseconds(Int64(20 - i % 20)))
                return i * i
            }.collect()
            XCTAssertEqual(results, (0..<200).map { $0 * $0 })
            XCTAssertLessThan(start.duration(to: .now), .seconds(5), "200 x up to 20 ms, 50 at a time")
        }
    }

    func testImapThrowsAJobsErrorAtItsPlace() throws {
        try green {
            let pool = GreenPool(size: 4)
            var seen: [Int] = []
            do {
                for try await value in pool.imap(
                    0..<10,
                    { i in
                        if i == 5 { throw Boom(code: i) }
                        return i
                    })
                { seen.append(value) }
                XCTFail("expected the error")
            } catch let error as Boom {
                XCTAssertEqual(error.code, 5)
            }
            XCTAssertEqual(seen, [0, 1, 2, 3, 4])
        }
    }

    func testImapHoldsAtMostPoolSizeResultsForASlowConsumer() throws {
        try green {
            let pool = GreenPool(size: 5)
            let produced = Box(0)
            var iterator = pool.imap(0..<1_000_000) { i in
                produced.value += 1
                return i
            }.makeAsyncIterator()
            var consumed = 0
            for _ in 0..<20 {
                _ = try await iterator.next()
                consumed += 1
                try await sleep(for: .milliseconds(1))
                XCTAssertLessThanOrEqual(produced.value - consumed, 5 + 2, "bounded by the pool's size")
            }
        }
    }

    func testStarmapSpreadsTuples() throws {
        let sums = try green {
            try await GreenPool(size: 3).starmap([(1, 2), (3, 4), (5, 6)], { a, b in a + b }).collect()
        }
        XCTAssertEqual(sums, [3, 7, 11])
    }
}

final class GreenPileTests: XCTestCase {
    func testResultsComeBackInSpawnOrderWithErrorsInPlace() throws {
        try green {
            let pile = GreenPile<Int>(size: 10)
            for i in 0..<6 {
                try await pile.spawn {
                    try await sleep(for: .milliseconds(Int64(6 - i)))
                    if i == 3 { throw Boom(code: 3) }
                    return i
                }
            }
            XCTAssertEqual(pile.count, 6)
            var results: [String] = []
            while true {
                do {
                    guard let value = try await pile.next() else { break }
                    results.append("\(value)")
                } catch let error as Boom {
                    results.append("error \(error.code)")
                }
            }
            XCTAssertEqual(results, ["0", "1", "2", "error 3", "4", "5"])
        }
    }

    func testPileOnASharedPool() throws {
        let values = try green {
            let pool = GreenPool(size: 2)
            let pile = GreenPile<String>(pool: pool)
            for name in ["a", "b", "c"] { try await pile.spawn { name.uppercased() } }
            return try await pile.collect()
        }
        XCTAssertEqual(values, ["A", "B", "C"])
    }
}
