import XCTest

@testable import EvyJobs

/// What the collector keeps for clients waiting for outcomes: bounded per client, asked-again
/// jobs counted once (and renewing), idle registrations dropped, active ones kept.
final class OutcomeWaitersTests: XCTestCase {
    private let start = ContinuousClock.now
    private let alice = OutcomeWaiters.Waiter(client: [1], request: 1)
    private let alicesOther = OutcomeWaiters.Waiter(client: [1], request: 2)
    private let bob = OutcomeWaiters.Waiter(client: [2], request: 1)

    func testJobsBeyondTheClientsRoomAreLeftOutAndOthersAreNotCharged() {
        var waiters = OutcomeWaiters(maxJobsPerClient: 10, lifetime: .seconds(60))
        XCTAssertEqual(waiters.add(Array(1...6), for: alice, now: start), [])
        let leftOut = waiters.add(Array(7...11), for: alicesOther, now: start)
        XCTAssertEqual(leftOut.count, 1, "6 + 5 is one past 10, whichever request asks")
        XCTAssertEqual(waiters.jobCount, 10, "the room is filled, no more")
        XCTAssertEqual(waiters.add(leftOut, for: alicesOther, now: start), leftOut, "still no room")
        XCTAssertEqual(waiters.add(Array(1...10), for: bob, now: start), [], "another client has its own room")
        XCTAssertEqual(waiters.take(3, now: start).count, 2, "both clients wait for job 3")
        XCTAssertEqual(waiters.add(leftOut, for: alicesOther, now: start), [], "an outcome delivered frees room")
    }

    func testARefusedAskStillRenewsTheRegistration() {
        var waiters = OutcomeWaiters(maxJobsPerClient: 2, lifetime: .seconds(60))
        XCTAssertEqual(waiters.add([1, 2], for: alice, now: start), [])
        XCTAssertEqual(waiters.add([1, 2, 3], for: alice, now: start + .seconds(50)), [3], "3 is beyond the room")
        XCTAssertEqual(waiters.expire(now: start + .seconds(100)), 0, "asked again at 50 s: kept")
        XCTAssertEqual(waiters.expire(now: start + .seconds(111)), 2)
        XCTAssertEqual(waiters.add([], for: bob, now: start), [], "an empty WAIT registers nothing")
        XCTAssertEqual(waiters.expire(now: start + .seconds(1000)), 0)
    }

    func testAskingAgainForJobsAlreadyWaitedForAddsNothing() {
        var waiters = OutcomeWaiters(maxJobsPerClient: 10, lifetime: .seconds(60))
        XCTAssertEqual(waiters.add(Array(1...10), for: alice, now: start), [])
        XCTAssertEqual(waiters.add(Array(1...10), for: alice, now: start), [], "a refresh of the same jobs")
        XCTAssertEqual(waiters.take(5, now: start), [alice], "registered once")
        XCTAssertTrue(waiters.remove(6, from: alice, now: start))
        XCTAssertFalse(waiters.remove(6, from: alice, now: start), "already gone")
    }

    func testIdleRegistrationsAreDroppedAndActiveOnesKept() {
        var waiters = OutcomeWaiters(maxJobsPerClient: 100, lifetime: .seconds(60))
        XCTAssertEqual(waiters.add([1, 2, 3], for: alice, now: start), [])
        XCTAssertEqual(waiters.add([4, 5], for: bob, now: start), [])
        XCTAssertEqual(waiters.expire(now: start + .seconds(59)), 0, "within the lifetime")
        // Bob hears of one job (an outcome), Alice of nothing.
        XCTAssertEqual(waiters.take(4, now: start + .seconds(50)), [bob])
        XCTAssertEqual(waiters.expire(now: start + .seconds(61)), 3, "Alice's three jobs went")
        XCTAssertEqual(waiters.jobCount, 1, "Bob still waits for job 5")
        XCTAssertEqual(waiters.waiters(of: 5, now: start + .seconds(100)), [bob], "progress keeps a wait alive")
        XCTAssertEqual(waiters.expire(now: start + .seconds(159)), 0)
        XCTAssertEqual(waiters.expire(now: start + .seconds(161)), 1)
        XCTAssertEqual(waiters.jobCount, 0)
        XCTAssertEqual(waiters.add(Array(1...100), for: alice, now: start), [], "what expired no longer counts")
    }
}
