import XCTest
@testable import Evy

final class HubTests: XCTestCase {
    func testRunReturnsBodyValue() throws {
        let value = try Hub.run { 42 }
        XCTAssertEqual(value, 42)
    }

    func testSpawnAndWait() throws {
        let total = try Hub.run {
            let threads = (1...100).map { i in spawn { i * 2 } }
            var sum = 0
            for thread in threads { sum += try await thread.wait() }
            return sum
        }
        XCTAssertEqual(total, 10100)
    }

    func testSleepNeverReturnsEarly() throws {
        let elapsed = try Hub.run {
            let start = ContinuousClock.now
            try await sleep(for: .milliseconds(20))
            return start.duration(to: .now)
        }
        XCTAssertGreaterThanOrEqual(elapsed, .milliseconds(20))
    }
}
