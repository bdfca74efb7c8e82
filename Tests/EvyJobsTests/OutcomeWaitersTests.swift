import XCTest

@testable import EvyJobs

/// What the collector keeps for clients waiting for outcomes: bounded per client, asked-again
/// jobs counted once, idle registrations dropped, active ones kept.
final class OutcomeWaitersTests: XCTestCase {
    private let start = ContinuousClock.now
    private let alice = OutcomeWaiters.Waiter(client: [1], request: 1)
    private let alicesOther = OutcomeWaiters.Waiter(client: [1], request: 2)
    private let bob = OutcomeWaiters.Waiter(client: [2], request: 1)

    func testAWaitBeyondTheClientsBoundIsRefusedWholeAndOthersAreNotCharged() {
        var waiters = OutcomeWaiters(maxJobsPerClient: 10, lifetime: .seconds(60))
        XCTAssertTrue(waiters.add(Array(1...6), for: alice, now: start))
        XCTAssertFalse(waiters.add(Array(7...11), for: alicesOther, now: start), "6 + 5 is past 10, whoever asks")
        XCTAssertEqual(waiters.jobCount, 6, "nothing of the refused WAIT is kept")
        XCTAssertTrue(waiters.add(Array(7...10), for: alicesOther, now: start), "exactly up to the bound")
        XCTAssertTrue(waiters.add(Array(1...10), for: bob, now: start), "another client has its own bound")
        XCTAssertEqual(waiters.take(3, now: start).count, 2, "both clients wait for job 3")
        XCTAssertTrue(waiters.add([11], for: alice, now: start), "an outcome delivered frees room")
    }

    func testAskingAgainForJobsAlreadyWaitedForAddsNothing() {
        var waiters = OutcomeWaiters(maxJobsPerClient: 10, lifetime: .seconds(60))
        XCTAssertTrue(waiters.add(Array(1...10), for: alice, now: start))
        XCTAssertTrue(waiters.add(Array(1...10), for: alice, now: start), "a refresh of the same jobs")
        XCTAssertEqual(waiters.take(5, now: start), [alice], "registered once")
        XCTAssertTrue(waiters.remove(6, from: alice, now: start))
        XCTAssertFalse(waiters.remove(6, from: alice, now: start), "already gone")
    }

    func testIdleRegistrationsAreDroppedAndActiveOnesKept() {
        var waiters = OutcomeWaiters(maxJobsPerClient: 100, lifetime: .seconds(60))
        XCTAssertTrue(waiters.add([1, 2, 3], for: alice, now: start))
        XCTAssertTrue(waiters.add([4, 5], for: bob, now: start))
        XCTAssertEqual(waiters.expire(now: start + .seconds(59)), 0, "within the lifetime")
        // Bob hears of one job (an outcome), Alice of nothing.
        XCTAssertEqual(waiters.take(4, now: start + .seconds(50)), [bob])
        XCTAssertEqual(waiters.expire(now: start + .seconds(61)), 3, "Alice's three jobs went")
        XCTAssertEqual(waiters.jobCount, 1, "Bob still waits for job 5")
        XCTAssertEqual(waiters.waiters(of: 5, now: start + .seconds(100)), [bob], "progress keeps a wait alive")
        XCTAssertEqual(waiters.expire(now: start + .seconds(159)), 0)
        XCTAssertEqual(waiters.expire(now: start + .seconds(161)), 1)
        XCTAssertEqual(waiters.jobCount, 0)
        XCTAssertTrue(waiters.add(Array(1...100), for: alice, now: start), "what expired no longer counts")
    }
}
