import Evy
import EvyJobs
import EvyTestSupport
import Foundation
import XCTest

/// Fan-out and fan-in across the job system: ``JobPile`` and ``JobClient/map(_:_:options:limit:)``
/// against a whole system in this process (two workers over inproc://).
final class JobPileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "evy-pile-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Workers serving `nap` (sleeps the payload's milliseconds, returns the payload, counting how
    /// many run at once in `running`/`peak`) and `fail` (fails for good).
    private func withSystem(_ body: @escaping @Sendable (EmbeddedSystem, JobClient, Box<(running: Int, peak: Int)>) async throws -> Void)
        throws
    {
        let directory = self.directory
        try green(deadline: .seconds(60)) {
            let load = Box((running: 0, peak: 0))
            let system = try EmbeddedSystem(
                directory: directory, workers: 2, slots: 20, heartbeat: .milliseconds(100),
                tune: { dispatcher, _ in dispatcher.maxPayloadBytes = 100 }
            ) { worker in
                worker.handle("nap") { job in
                    load.value.running += 1
                    load.value.peak = max(load.value.peak, load.value.running)
                    defer { load.value.running -= 1 }
                    try await sleep(for: .milliseconds(Int64(job.text) ?? 0))
                    return job.payload
                }
                worker.handle("fail") { job in throw JobFailure("no: \(job.text)", retryable: false) }
            }
            let client = try system.client()
            try await body(system, client, load)
            client.close()
            await system.stop()
        }
    }

    func testOutcomesComeInSubmissionOrderWithFailuresInTheirPlace() throws {
        try withSystem { _, client, _ in
            let pile = try JobPile(client: client)
            // The first jobs take longest, so they finish last.
            for delay in [60, 40, 20, 0] { try await pile.submit("nap", payload: Array("\(delay)".utf8)) }
            try await pile.submit("fail", payload: Array("x".utf8))
            try await pile.submit("nap", payload: Array("5".utf8))
            let outcomes = try await pile.collect()
            XCTAssertEqual(outcomes.map(\.text), ["60", "40", "20", "0", "no: x", "5"], "submission order")
            XCTAssertEqual(outcomes.map(\.status), [.succeeded, .succeeded, .succeeded, .succeeded, .dead, .succeeded])
            XCTAssertEqual(pile.count, 0)
            let empty = try await pile.next()
            XCTAssertNil(empty, "an empty pile ends")
        }
    }

    func testARefusedSubmitIsThrownAtItsPlaceAndTheRestFollow() throws {
        try withSystem { _, client, _ in
            let pile = try JobPile(client: client)
            try await pile.submit("nap", payload: Array("1".utf8))
            try await pile.submit("nap", payload: [UInt8](repeating: 0x31, count: 101))  // over the limit
            try await pile.submit("nap", payload: Array("2".utf8))
            let first = try await pile.next()
            XCTAssertEqual(first?.text, "1")
            do {
                _ = try await pile.next()
                XCTFail("the refused submit is thrown in its place")
            } catch JobClientError.refused(let code, _) {
                XCTAssertEqual(code, .tooLarge)
            }
            let third = try await pile.next()
            XCTAssertEqual(third?.text, "2", "the jobs after it are still there")
        }
    }

    func testSubmitWaitsWhileLimitJobsAreOutstanding() throws {
        try withSystem { system, client, _ in
            let pile = try JobPile(client: client, limit: 3)
            let producer = spawn {
                for _ in 0..<10 { try await pile.submit("nap", payload: Array("0".utf8)) }
            }
            try await waitUntil("three jobs recorded") { system.collector.recorded == 3 }
            // Their outcomes wait in the pile, untaken: the producer still may not add a fourth.
            for _ in 0..<10 { try await sleep(for: .zero) }
            XCTAssertEqual(pile.count, 3, "no more than the limit outstanding")
            XCTAssertFalse(producer.isDone)
            var taken = 0
            while let outcome = try await pile.next() {
                XCTAssertEqual(outcome.status, .succeeded)
                XCTAssertLessThanOrEqual(pile.count, 3)
                taken += 1
                if taken == 10 { break }
                if pile.count == 0 { try await waitUntil("the producer's next submit") { pile.count > 0 } }
            }
            try await producer.wait()
            XCTAssertEqual(taken, 10, "every job's outcome, once")
        }
    }

    func testMapYieldsInInputOrderWithABoundOnOutstandingJobs() throws {
        try withSystem { _, client, load in
            let payloads = (0..<200).map { Array("\($0 % 7)".utf8) }
            var texts: [String] = []
            for try await outcome in client.map("nap", payloads, limit: 8) {
                XCTAssertEqual(outcome.status, .succeeded)
                texts.append(outcome.text)
            }
            XCTAssertEqual(texts, payloads.map { String(decoding: $0, as: UTF8.self) }, "input order, each once")
            XCTAssertLessThanOrEqual(load.value.peak, 8, "never more than the limit running")
            XCTAssertGreaterThan(load.value.peak, 1, "jobs ran side by side")
        }
    }

    func testMapSubmitsNoFurtherThanLimitAheadOfItsConsumer() throws {
        try withSystem { system, client, _ in
            let payloads = (0..<100).map { _ in Array("0".utf8) }
            var iterator = client.map("nap", payloads, limit: 5).makeAsyncIterator()
            for _ in 0..<3 { _ = try await iterator.next() }
            // Three taken: the feeder may fill the room again (3 + 5 submitted), and no more.
            try await waitUntil("the pile refilled") { system.dispatcher.counters.submitted == 8 }
            try await waitUntil("those jobs recorded") { system.collector.recorded == 8 }
            for _ in 0..<20 { try await sleep(for: .zero) }
            XCTAssertEqual(system.dispatcher.counters.submitted, 8, "a slow consumer holds the producer back")
        }
    }

    func testJobsStillOutFailWhenTheClientCloses() throws {
        try withSystem { _, client, _ in
            let pile = try JobPile(client: client)
            try await pile.submit("nap", payload: Array("0".utf8))
            try await pile.submit("nap", payload: Array("5000".utf8))  // still running when the client closes
            let first = try await pile.next()
            XCTAssertEqual(first?.text, "0")
            client.close()
            do {
                _ = try await pile.next()
                XCTFail("an outcome that can no longer come must not be waited for")
            } catch JobClientError.noAnswer {}
        }
    }
}
