import Evy
import EvyJobs
import EvyTestSupport
import Foundation
import XCTest

/// The whole system in one process over inproc://, each semantic of the job system with a test
/// that fails without it. Every job is counted: lost and duplicated results both fail a test.
final class SystemTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "evy-jobs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` with an embedded system whose workers serve `echo`, `fail`, `block` and the
    /// handlers `extra` adds, heartbeats every 100 ms.
    private func withSystem(
        workers: Int = 2, slots: Int = 10,
        tune: @escaping @Sendable (inout Dispatcher.Configuration, inout EvyJobs.Collector.Configuration) -> Void = {
            _, _ in
        },
        extra: @escaping @Sendable (Worker) -> Void = { _ in },
        _ body: @escaping @Sendable (EmbeddedSystem, JobClient) async throws -> Void
    ) throws {
        let directory = self.directory
        try green(deadline: .seconds(60)) {
            let system = try EmbeddedSystem(
                directory: directory, workers: workers, slots: slots,
                heartbeat: .milliseconds(100),
                tune: { dispatcher, collector in
                    dispatcher.retryDelay = .milliseconds(10)
                    tune(&dispatcher, &collector)
                }
            ) { worker in
                worker.handle("echo") { job in job.payload }
                worker.handle("fail") { job in throw JobFailure("no", retryable: job.text == "retryable") }
                worker.handle("block") { _ in
                    try await sleep(for: .seconds(3600))
                    return []
                }
                extra(worker)
            }
            let client = try system.client()
            do {
                try await body(system, client)
            } catch {
                client.close()
                await system.stop()
                throw error
            }
            client.close()
            await system.stop()
        }
    }

    func testEveryJobRunsAndItsResultIsRecordedOnce() throws {
        try withSystem { system, client in
            let jobs = (0..<500).map { (handler: "echo", payload: Array("job \($0)".utf8), options: JobOptions()) }
            let ids = try await client.submitMany(jobs)
            XCTAssertEqual(Set(ids).count, 500, "every submit got its own id")
            var seen: [UInt64: String] = [:]
            for try await outcome in client.outcomes(of: ids) {
                XCTAssertNil(seen[outcome.job], "one outcome per job")
                XCTAssertEqual(outcome.status, .succeeded)
                seen[outcome.job] = outcome.text
            }
            for (index, id) in ids.enumerated() { XCTAssertEqual(seen[id], "job \(index)") }
            XCTAssertEqual(system.collector.recorded, 500)
            XCTAssertEqual(system.workers.map(\.completed).reduce(0, +), 500, "no job ran twice")
            XCTAssertTrue(system.workers.allSatisfy { $0.completed > 0 }, "both workers took work")
        }
    }

    func testJobsSpreadOverTheWorkersWhenFewerAreReadyThanOneWorkerHasSlotsFor() throws {
        try withSystem(workers: 2, slots: 10) { system, client in
            var options = JobOptions()
            options.concurrencyKey = "one host"
            options.concurrencyLimit = 4  // under one worker's 10 slots: it alone could take them all
            let ids = try await client.submitMany((0..<60).map { _ in ("echo", [], options) })
            for try await outcome in client.outcomes(of: ids) { XCTAssertEqual(outcome.status, .succeeded) }
            let counts = system.workers.map(\.completed)
            XCTAssertEqual(counts.reduce(0, +), 60)
            XCTAssertTrue(counts.allSatisfy { $0 >= 15 }, "each worker took its share: \(counts)")
        }
    }

    func testRetryableFailuresAreRetriedThenDead() throws {
        try withSystem { _, client in
            var options = JobOptions()
            options.maxRetries = 2
            let id = try await client.submit("fail", payload: Array("retryable".utf8), options: options)
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.status, .dead)
            XCTAssertEqual(outcome.attempt, 3, "the first attempt and two retries")
            let dead = try JSONSerialization.jsonObject(with: Data(try await client.query("dead"))) as? [[String: Any]]
            XCTAssertEqual(dead?.first?["id"] as? UInt64 ?? UInt64(dead?.first?["id"] as? Int ?? 0), id)
            let purged = try await client.deadLetters(.purge)
            XCTAssertEqual(purged, 1)
        }
    }

    func testAFailureThatIsNotRetryableIsDeadAtOnce() throws {
        try withSystem { _, client in
            let id = try await client.submit("fail", payload: Array("bad input".utf8))
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.status, .dead)
            XCTAssertEqual(outcome.attempt, 1)
        }
    }

    func testADedupKeyReturnsTheFirstJob() throws {
        try withSystem { system, client in
            var options = JobOptions()
            options.dedupKey = "http://example.org/"
            let first = try await client.submitReceipt("echo", payload: [1], options: options)
            _ = try await client.wait(for: first.job, timeout: .seconds(10))
            let second = try await client.submitReceipt("echo", payload: [2], options: options)
            XCTAssertFalse(first.duplicate)
            XCTAssertTrue(second.duplicate)
            XCTAssertEqual(second.job, first.job, "the same key, even after the first is done")
            XCTAssertEqual(system.collector.recorded, 1)
        }
    }

    func testAWorkerNeverHoldsMoreJobsThanItsSlots() throws {
        let peak = Box((now: 0, max: 0))
        try withSystem(
            workers: 1, slots: 3,
            extra: { worker in
                worker.handle("count") { _ in
                    peak.value.now += 1
                    peak.value.max = max(peak.value.max, peak.value.now)
                    try await sleep(for: .milliseconds(5))
                    peak.value.now -= 1
                    return []
                }
            }
        ) { _, client in
            let ids = try await client.submitMany((0..<30).map { _ in ("count", [], JobOptions()) })
            for try await _ in client.outcomes(of: ids) {}
            XCTAssertEqual(peak.value.max, 3)
        }
    }

    func testAHigherPriorityRunsFirst() throws {
        let order = Box<[String]>([])
        let gate = Flag()
        try withSystem(
            workers: 1, slots: 1,
            extra: { worker in
                worker.handle("gate") { _ in
                    try await gate.wait()
                    return []
                }
                worker.handle("note") { job in
                    order.value.append(job.text)
                    return []
                }
            }
        ) { _, client in
            let first = try await client.submit("gate")  // occupies the only slot
            var low = JobOptions()
            var high = JobOptions()
            low.priority = 1
            high.priority = 9
            let ids = [
                try await client.submit("note", payload: Array("low".utf8), options: low),
                try await client.submit("note", payload: Array("high".utf8), options: high),
            ]
            gate.set()
            for try await _ in client.outcomes(of: ids + [first]) {}
            XCTAssertEqual(order.value, ["high", "low"])
        }
    }

    func testADelayedJobIsNeverLeasedEarly() throws {
        let started = Box<UInt64>(0)
        try withSystem(extra: { worker in
            worker.handle("when") { _ in
                started.value = UInt64(Date().timeIntervalSince1970 * 1000)
                return []
            }
        }) { _, client in
            var options = JobOptions()
            options.notBefore = UInt64(Date().timeIntervalSince1970 * 1000) + 300
            let id = try await client.submit("when", options: options)
            _ = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertGreaterThanOrEqual(started.value, options.notBefore)
        }
    }

    /// Two workers, one key with limit 1 and 200 ms spacing: the starts are at least 200 ms apart.
    func testAConcurrencyKeyHoldsAcrossWorkers() throws {
        let starts = Box<[ContinuousClock.Instant]>([])
        try withSystem(
            workers: 2,
            extra: { worker in
                worker.handle("polite") { _ in
                    starts.value.append(.now)
                    return []
                }
            }
        ) { system, client in
            var options = JobOptions()
            options.concurrencyKey = "a.example"
            options.concurrencyLimit = 1
            options.spacingMilliseconds = 200
            let ids = try await client.submitMany((0..<4).map { _ in ("polite", [], options) })
            for try await _ in client.outcomes(of: ids) {}
            let times = starts.value.sorted()
            XCTAssertEqual(times.count, 4)
            for (earlier, later) in zip(times, times.dropFirst()) {
                XCTAssertGreaterThanOrEqual(later - earlier, .milliseconds(195), "spacing held")
            }
        }
    }

    /// A worker that stops answering (killed) loses its lease; the job runs again elsewhere.
    func testALostWorkersJobRunsAgainOnAnother() throws {
        try withSystem(
            workers: 1, slots: 1,
            extra: { worker in
                worker.handle("slow-once") { job in
                    if job.attempt == 1 { try await sleep(for: .seconds(3600)) }
                    return Array("attempt \(job.attempt)".utf8)
                }
            }
        ) { system, client in
            let id = try await client.submit("slow-once")
            try await waitUntil("the first attempt runs") {
                system.workers[0].completed == 0 && system.dispatcher.counters.leased == 1
            }
            system.workers[0].stop()  // gone without a word, as after kill -9
            let lostAt = ContinuousClock.now
            system.addWorker()
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.text, "attempt 2")
            XCTAssertLessThan(ContinuousClock.now - lostAt, .seconds(5), "its job ran again within 5 s")
            XCTAssertEqual(system.dispatcher.counters.lost, 1)
        }
    }

    func testCancellingAQueuedAndARunningJob() throws {
        try withSystem(workers: 1, slots: 1) { system, client in
            let running = try await client.submit("block")
            let queued = try await client.submit("echo")
            try await waitUntil("the blocking job runs") { system.dispatcher.counters.leased == 1 }
            let removed = try await client.cancel(queued)
            let aborting = try await client.cancel(running)
            XCTAssertEqual(removed, .removed)
            XCTAssertEqual(aborting, .aborting)
            let runningOutcome = try await client.wait(for: running, timeout: .seconds(10))
            let queuedOutcome = try await client.wait(for: queued, timeout: .seconds(10))
            XCTAssertEqual(runningOutcome.status, .cancelled)
            XCTAssertEqual(queuedOutcome.status, .cancelled)
            let again = try await client.cancel(queued)
            XCTAssertEqual(again, .notFound)
        }
    }

    func testProgressReachesTheWaitingClient() throws {
        let notes = Box<[UInt64]>([])
        try withSystem(extra: { worker in
            worker.handle("steps") { job in
                for step in 1...3 {
                    job.progress(UInt64(step), of: 3, "step \(step)")
                    try await sleep(for: .milliseconds(20))
                }
                return []
            }
        }) { _, client in
            let id = try await client.submit("steps")
            for try await _ in client.outcomes(of: [id], progress: { _, done, _, _ in notes.value.append(done) }) {}
            XCTAssertEqual(notes.value.last, 3)
            XCTAssertFalse(notes.value.isEmpty)
        }
    }

    /// Jobs accepted by a dispatcher that stops are all run after it starts again on its journal.
    func testTheDispatcherResumesFromItsJournal() throws {
        let directory = self.directory
        let ids = Box<[UInt64]>([])
        try green(deadline: .seconds(60)) {
            // First life: no workers, so every job stays queued.
            let first = try EmbeddedSystem(directory: directory, workers: 0, heartbeat: .milliseconds(100)) { _ in }
            let client = try first.client()
            ids.value = try await client.submitMany((0..<50).map { ("echo", Array("\($0)".utf8), JobOptions()) })
            client.close()
            await first.stop()
        }
        try green(deadline: .seconds(60)) {
            let second = try EmbeddedSystem(directory: directory, workers: 1, heartbeat: .milliseconds(100)) { worker in
                worker.handle("echo") { job in job.payload }
            }
            let client = try second.client()
            var outcomes = 0
            for try await outcome in client.outcomes(of: ids.value) {
                XCTAssertEqual(outcome.status, .succeeded)
                outcomes += 1
            }
            XCTAssertEqual(outcomes, 50, "nothing acknowledged was lost")
            client.close()
            await second.stop()
        }
    }

    /// SIGTERM's drain: the running job finishes and is recorded once, the worker takes nothing
    /// new, and what it did not start runs on another worker.
    func testADrainingWorkerFinishesWhatItRunsAndTakesNothingNew() throws {
        let runs = Box<[UInt64: Int]>([:])
        try withSystem(
            workers: 1, slots: 1,
            extra: { worker in
                worker.handle("work") { job in
                    runs.value[job.job, default: 0] += 1
                    try await sleep(for: .milliseconds(200))
                    return []
                }
            }
        ) { system, client in
            let first = try await client.submit("work")
            try await waitUntil("the first job runs") { runs.value[first] == 1 }
            let second = try await client.submit("work")
            let draining = system.workers[0]
            spawnN { await draining.drain(grace: .seconds(5)) }
            let firstOutcome = try await client.wait(for: first, timeout: .seconds(10))
            XCTAssertEqual(firstOutcome.status, .succeeded)
            system.addWorker()  // the second job waits for a worker that is not draining
            let secondOutcome = try await client.wait(for: second, timeout: .seconds(10))
            XCTAssertEqual(secondOutcome.status, .succeeded)
            XCTAssertEqual(runs.value[first], 1, "nothing ran twice")
            XCTAssertEqual(runs.value[second], 1)
            XCTAssertEqual(draining.completed, 1, "the draining worker took no new job")
        }
    }
}
