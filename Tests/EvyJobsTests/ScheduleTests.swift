import XCTest

@testable import EvyJobs

/// The dispatcher's scheduling rules, without sockets or a journal.
final class ScheduleTests: XCTestCase {
    private func job(_ id: UInt64, _ handler: String = "h", _ configure: (inout JobOptions) -> Void = { _ in })
        -> ScheduledJob
    {
        var options = JobOptions()
        configure(&options)
        return ScheduledJob(id: id, handler: handler, options: options, payload: [], attempts: 0, lost: 0, lease: nil)
    }

    private let worker: [UInt8] = [1]

    func testPriorityThenAgeAndOnlyTheWorkersHandlers() {
        var schedule = Schedule()
        schedule.add(job(1), now: 0)
        schedule.add(job(2) { $0.priority = 5 }, now: 0)
        schedule.add(job(3, "other") { $0.priority = 9 }, now: 0)
        schedule.add(job(4) { $0.priority = 5 }, now: 0)
        let order = (0..<3).compactMap { _ in schedule.lease(for: ["h"], to: worker, now: 0)?.id }
        XCTAssertEqual(order, [2, 4, 1], "higher priority first, then the older; never another handler's job")
        XCTAssertEqual(schedule.lease(for: ["other"], to: worker, now: 0)?.attempts, 1, "the first attempt is 1")
    }

    func testDelayedJobsWaitForTheirTime() {
        var schedule = Schedule()
        schedule.add(job(1) { $0.notBefore = 1000 }, now: 0)
        XCTAssertNil(schedule.lease(for: ["h"], to: worker, now: 999))
        XCTAssertEqual(schedule.promote(now: 999), 1000, "the next time something comes due")
        _ = schedule.promote(now: 1000)
        XCTAssertEqual(schedule.lease(for: ["h"], to: worker, now: 1000)?.id, 1)
    }

    func testAKeyAtItsLimitWaitsWithoutHoldingUpOthers() {
        var schedule = Schedule()
        for id: UInt64 in 1...2 {
            schedule.add(
                job(id) {
                    $0.concurrencyKey = "host"
                    $0.concurrencyLimit = 1
                }, now: 0)
        }
        schedule.add(job(3), now: 0)
        XCTAssertEqual(schedule.lease(for: ["h"], to: worker, now: 0)?.id, 1)
        XCTAssertEqual(schedule.lease(for: ["h"], to: worker, now: 0)?.id, 3, "job 2 waits for its key, job 3 goes")
        XCTAssertNil(schedule.lease(for: ["h"], to: worker, now: 0))
        schedule.remove(1)
        XCTAssertEqual(schedule.lease(for: ["h"], to: worker, now: 0)?.id, 2, "the key's slot came free")
    }

    func testAKeyWithManyWaitingJobsRunsThemAllInPriorityOrderNeverOverItsLimit() {
        var schedule = Schedule()
        let total: UInt64 = 5000
        for id in 1...total {
            schedule.add(
                job(id) {
                    $0.concurrencyKey = "host"
                    $0.concurrencyLimit = 3
                    $0.priority = UInt8(id % 4)
                }, now: 0)
        }
        schedule.remove(17)  // a waiting job cancelled: never leased
        var running: [UInt64] = []
        var order: [UInt64] = []
        while true {
            while let leased = schedule.lease(for: ["h"], to: worker, now: 0) {
                running.append(leased.id)
                order.append(leased.id)
            }
            XCTAssertLessThanOrEqual(running.count, 3, "never over the key's limit")
            guard !running.isEmpty else { break }
            schedule.remove(running.removeFirst())  // the oldest running job ends
        }
        XCTAssertEqual(order.count, Int(total) - 1, "every job but the cancelled one ran, once")
        XCTAssertEqual(Set(order).count, order.count)
        XCTAssertFalse(order.contains(17))
        let priorities = order.dropFirst(3).map { $0 % 4 }
        XCTAssertEqual(priorities, priorities.sorted(by: >), "the waiting jobs went by priority")
    }

    func testKeySpacingBetweenStarts() {
        var schedule = Schedule()
        for id: UInt64 in 1...2 {
            schedule.add(
                job(id) {
                    $0.concurrencyKey = "host"
                    $0.spacingMilliseconds = 200
                }, now: 0)
        }
        XCTAssertEqual(schedule.lease(for: ["h"], to: worker, now: 0)?.id, 1)
        schedule.remove(1)
        XCTAssertNil(schedule.lease(for: ["h"], to: worker, now: 150), "inside the spacing")
        XCTAssertEqual(schedule.promote(now: 150), 200)
        _ = schedule.promote(now: 200)
        XCTAssertEqual(schedule.lease(for: ["h"], to: worker, now: 200)?.id, 2)
    }

    func testAnUnleasedJobRunsAgainAsItsNextAttempt() {
        var schedule = Schedule()
        schedule.add(job(1), now: 0)
        XCTAssertEqual(schedule.lease(for: ["h"], to: worker, now: 0)?.attempts, 1)
        schedule.unlease(1, now: 0, lost: true)
        let again = schedule.lease(for: ["h"], to: [2], now: 0)
        XCTAssertEqual(again?.attempts, 2)
        XCTAssertEqual(again?.lost, 1)
        XCTAssertEqual(schedule.leases(of: [2]).map(\.id), [1])
        XCTAssertTrue(schedule.leases(of: worker).isEmpty)
    }
}

/// The per-second rates of `evy status`.
final class RateWindowTests: XCTestCase {
    func testRatesAreTheIncreasePerSecondOverTheWindow() {
        let start = ContinuousClock.now
        var window = RateWindow(span: .seconds(10))
        XCTAssertEqual(window.perSecond([5, 5], at: start), [0, 0], "nothing before the first sample")
        window.record([0, 0], at: start)
        window.record([100, 50], at: start + .seconds(1))
        XCTAssertEqual(window.perSecond([200, 100], at: start + .seconds(2)), [100, 50])
        // Samples older than the span drop out: the rate follows the recent pace.
        for second in 3...20 { window.record([200 + (second - 2) * 10, 100], at: start + .seconds(second)) }
        let recent = window.perSecond([200 + 19 * 10, 100], at: start + .seconds(21))
        XCTAssertEqual(recent[0], 10, accuracy: 0.01, "only the last 10 s count")
        XCTAssertEqual(recent[1], 0, accuracy: 0.01)
    }
}
