import Evy
import EvyTestSupport
import XCTest

@testable import EvyJobs

final class JournalDispatcherTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory() }
    override func tearDown() { directory.remove() }

    func testASubmittedJobIsLoadedAfterReopening() throws {
        let path = directory.path
        let id = try green {
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            defer { journal.close() }
            guard case .accepted(let job) = try await completed({ journal.submit(newJob(), completion: $0) }) else {
                XCTFail("not accepted")
                return UInt64(0)
            }
            XCTAssertEqual(job.handler, "echo")
            return job.id
        }
        XCTAssertEqual(id, 1)
        try green {
            let journal = try DispatcherJournal(directory: path, synchronous: .full, hub: Hub.current)
            defer { journal.close() }
            let pending = try journal.loadPending()
            XCTAssertEqual(pending.map(\.id), [id])
            XCTAssertEqual(pending.first?.payload, Array("echo".utf8))
            XCTAssertEqual(pending.first?.options, newJob().options)
            XCTAssertEqual(pending.first?.state, .queued)
            XCTAssertEqual(pending.first?.submittedAt, 1_700_000_000_000)
        }
    }

    func testADedupKeyGivesTheFirstJobsIdEvenAfterItIsDone() throws {
        let path = directory.path
        try green {
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            defer { journal.close() }
            let first = try await completed { journal.submit(newJob(dedupKey: "once"), completion: $0) }
            let other = try await completed { journal.submit(newJob(), completion: $0) }
            let again = try await completed { journal.submit(newJob(dedupKey: "once"), completion: $0) }
            XCTAssertEqual(again, .duplicate(jobID: first.jobID))
            XCTAssertNotEqual(other.jobID, first.jobID)
            try await completed { journal.markDone(jobs: [first.jobID], completion: $0) }
            let afterDone = try await completed { journal.submit(newJob(dedupKey: "once"), completion: $0) }
            XCTAssertEqual(afterDone, .duplicate(jobID: first.jobID))
            XCTAssertEqual(try journal.loadPending().map(\.id), [other.jobID], "the done job left the queue")
            XCTAssertEqual(try journal.counts(), [.queued: 1, .done: 1], "the done row stays")
        }
        // The key survives a reopen too.
        try green {
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            defer { journal.close() }
            let again = try await completed { journal.submit(newJob(dedupKey: "once"), completion: $0) }
            XCTAssertEqual(again, .duplicate(jobID: 1))
        }
    }

    func testRetryLostDeadReviveAndPurge() throws {
        let path = directory.path
        try green {
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            defer { journal.close() }
            var ids: [UInt64] = []
            for _ in 0..<4 { ids.append(try await completed { journal.submit(newJob(), completion: $0) }.jobID) }
            journal.markRetry(job: ids[0], attempts: 2, notBefore: 99, error: "flaky")
            journal.markLost(job: ids[0], lost: 1)
            journal.markDead(job: ids[1], error: "gave up")
            journal.markDead(job: ids[2], error: "gave up too")
            journal.markCancelled(job: ids[3])
            // Updates are committed in order, so waiting for the last one waits for them all.
            try await completed { journal.markFailed(job: ids[3], error: "bad input", completion: $0) }

            let pending = try journal.loadPending()
            XCTAssertEqual(pending.map(\.id), [ids[0]])
            XCTAssertEqual(pending[0].attempts, 2)
            XCTAssertEqual(pending[0].lost, 1)
            XCTAssertEqual(pending[0].options.notBefore, 99)
            XCTAssertEqual(pending[0].lastError, "flaky")
            let dead = try journal.loadDead(limit: 10)
            XCTAssertEqual(dead.map(\.id), [ids[1], ids[2]])
            XCTAssertEqual(dead.first?.payload, Array("echo".utf8), "a dead job keeps its payload")
            XCTAssertEqual(try journal.loadDead(limit: 1).count, 1)
            XCTAssertEqual(try journal.counts(), [.queued: 1, .dead: 2, .failed: 1])

            let revived = try await completed { journal.revive(job: ids[1], completion: $0) }
            XCTAssertEqual(revived.map(\.id), [ids[1]])
            XCTAssertEqual(revived.first?.state, .queued)
            XCTAssertEqual(revived.first?.attempts, 0)
            let notDead = try await completed { journal.revive(job: ids[0], completion: $0) }
            XCTAssertEqual(notDead, [], "not dead")
            XCTAssertEqual(try journal.loadPending().map(\.id), [ids[0], ids[1]])

            journal.markDead(job: ids[1], error: "again")
            let purged = try await completed { journal.purge(job: ids[2], completion: $0) }
            XCTAssertEqual(purged, 1)
            let purgedNone = try await completed { journal.purge(job: ids[0], completion: $0) }
            XCTAssertEqual(purgedNone, 0, "not dead")
            let all = try await completed { journal.revive(job: 0, completion: $0) }
            XCTAssertEqual(all.map(\.id), [ids[1]])
            journal.markDead(job: ids[0], error: "x")
            journal.markDead(job: ids[1], error: "x")
            let purgedAll = try await completed { journal.purge(job: 0, completion: $0) }
            XCTAssertEqual(purgedAll, 2)
            XCTAssertEqual(try journal.counts(), [.failed: 1])

            // A purged job's id is never given again.
            let next = try await completed { journal.submit(newJob(), completion: $0) }
            XCTAssertEqual(next.jobID, ids[3] + 1)
        }
    }

    func testSubmitsAreCommittedInGroups() throws {
        let path = directory.path
        try green {
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            defer { journal.close() }
            let total = 1000
            let arrived = Box(0)
            let ids = Box(Set<UInt64>())
            let all = Flag()
            for index in 0..<total {
                journal.submit(newJob("h\(index)")) { result in
                    if case .success(let outcome) = result { ids.value.insert(outcome.jobID) }
                    arrived.value += 1
                    if arrived.value == total { all.set() }
                }
            }
            let allArrived = try await all.wait(timeout: .seconds(20))
            XCTAssertTrue(allArrived)
            XCTAssertEqual(ids.value.count, total, "every submit succeeded with its own id")
            XCTAssertLessThan(journal.commits, 50, "1000 submits queued at once take a few commits")
            XCTAssertEqual(try journal.loadPending().count, total)
        }
    }

    func testWritesAfterCloseFail() throws {
        let path = directory.path
        try green {
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            journal.close()
            do {
                _ = try await completed { journal.submit(newJob(), completion: $0) }
                XCTFail("a closed journal accepted a job")
            } catch let error as JournalError {
                XCTAssertTrue(error.description.contains("dispatcher.sqlite3"), error.description)
            }
        }
    }

    func testAnErrorNamesTheFile() throws {
        try green {
            XCTAssertThrowsError(try DispatcherJournal(directory: "/nonexistent/dir", hub: Hub.current)) { error in
                XCTAssertTrue("\(error)".contains("/nonexistent/dir/dispatcher.sqlite3"), "\(error)")
            }
        }
    }
}
