import EvyTestSupport
import XCTest

@testable import Evy

final class TimeoutTests: XCTestCase {
    func testTimeoutInterruptsTheBodyAndNamesItself() throws {
        try green {
            let start = ContinuousClock.now
            do {
                try await withTimeout(.milliseconds(10), label: "slow") { try await sleep(for: .seconds(60)) }
                XCTFail("expected a timeout")
            } catch let error as TimeoutError {
                XCTAssertEqual(error.label, "slow")
                XCTAssertEqual(error.duration, .milliseconds(10))
            }
            XCTAssertLessThan(start.duration(to: .now), .seconds(5))
            // The caller is not left cancelled: it can wait again.
            try await sleep(for: .milliseconds(1))
        }
    }

    func testBodyThatFinishesInTimeReturnsItsValue() throws {
        let value = try green { try await withTimeout(.seconds(5)) { 11 } }
        XCTAssertEqual(value, 11)
    }

    func testNilDurationSetsNoTimer() throws {
        let value = try green {
            try await withTimeout(nil) {
                try await sleep(for: .milliseconds(5))
                return 3
            }
        }
        XCTAssertEqual(value, 3)
    }

    func testSuppressedTimeoutReturnsTheFallback() throws {
        let value = try green {
            try await withTimeout(.milliseconds(5), orElse: -1) {
                try await sleep(for: .seconds(60))
                return 1
            }
        }
        XCTAssertEqual(value, -1)
    }

    func testNestedTimeoutsEachFireCorrectly() throws {
        try green {
            // The inner one is shorter: the inner fires, the outer scope sees the inner's error.
            do {
                try await withTimeout(.seconds(10), label: "outer") {
                    try await withTimeout(.milliseconds(5), label: "inner") { try await sleep(for: .seconds(60)) }
                }
                XCTFail("expected a timeout")
            } catch let error as TimeoutError {
                XCTAssertEqual(error.label, "inner")
            }
            // The outer one is shorter: the outer fires, through the inner scope.
            do {
                try await withTimeout(.milliseconds(5), label: "outer") {
                    try await withTimeout(.seconds(10), label: "inner") { try await sleep(for: .seconds(60)) }
                }
                XCTFail("expected a timeout")
            } catch let error as TimeoutError {
                XCTAssertEqual(error.label, "outer")
            }
            // An inner suppressed timeout swallows only its own expiry.
            let value = try await withTimeout(.seconds(10), label: "outer") {
                try await withTimeout(.milliseconds(5), orElse: "fallback") {
                    try await sleep(for: .seconds(60))
                    return "body"
                }
            }
            XCTAssertEqual(value, "fallback")
        }
    }

    func testBodyErrorsPassThrough() throws {
        try green {
            do {
                try await withTimeout(.seconds(5)) { throw Boom(code: 4) }
                XCTFail("expected the body's error")
            } catch let error as Boom {
                XCTAssertEqual(error.code, 4)
            }
        }
    }

    func testKillingTheCallerCancelsTheBody() throws {
        try green {
            let bodyStarted = Box(false)
            let bodyCancelled = Box(false)
            let caller = spawn {
                try await withTimeout(.seconds(60)) {
                    bodyStarted.value = true
                    do { try await sleep(for: .seconds(60)) } catch {
                        bodyCancelled.value = true
                        throw error
                    }
                }
            }
            try await waitUntil("the body sleeps") { bodyStarted.value }
            await caller.kill()
            XCTAssertTrue(bodyCancelled.value)
            do {
                try await caller.wait()
                XCTFail("killed")
            } catch is CancellationError {} catch is TimeoutError {
                XCTFail("a kill is not a timeout")
            }
        }
    }
}
