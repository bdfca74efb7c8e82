import Evy
import EvyTestSupport
import XCTest

@testable import EvyJobs

final class JournalCollectorTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory() }
    override func tearDown() { directory.remove() }

    func testAJobIsRecordedOnceTheFirstAttemptWinsAndSurvivesReopening() throws {
        let path = directory.path
        try green {
            let store = try CollectorStore(directory: path, hub: Hub.current)
            defer { store.close() }
            let first = try await completed {
                store.record([result(1), result(2, status: .failed, "boom")], completion: $0)
            }
            XCTAssertEqual(first, [true, true])
            let second = try await completed {
                store.record([result(1, attempt: 2, "late"), result(3), result(3, attempt: 2)], completion: $0)
            }
            XCTAssertEqual(second, [false, true, false], "a job id is recorded once; repeats in one call too")
            XCTAssertEqual(try store.count(), 3)
        }
        try green {
            let store = try CollectorStore(directory: path, hub: Hub.current)
            defer { store.close() }
            let found = try await completed { store.lookup(jobs: [3, 9, 1], completion: $0) }
            XCTAssertEqual(found.map(\.job), [3, 1], "unrecorded 9 left out")
            XCTAssertEqual(found.last?.attempt, 1)
            XCTAssertEqual(found.last?.payload, Array("ok".utf8))
            XCTAssertEqual(found.last?.durationMicroseconds, 1234)
            let again = try await completed { store.record([result(2, attempt: 3)], completion: $0) }
            XCTAssertEqual(again, [false], "still recorded after reopening")
        }
    }

    func testUnacknowledgedCompletionsUntilTheDispatcherAcknowledges() throws {
        let path = directory.path
        try green {
            let store = try CollectorStore(directory: path, hub: Hub.current)
            defer { store.close() }
            _ = try await completed {
                store.record([result(5), result(6, attempt: 2, status: .failed)], completion: $0)
            }
            XCTAssertEqual(
                try store.unacknowledged(),
                [
                    Completion(lease: Lease(job: 5, attempt: 1), status: .succeeded),
                    Completion(lease: Lease(job: 6, attempt: 2), status: .failed),
                ])
            try await completed { store.markAcknowledged(jobs: [5], completion: $0) }
            XCTAssertEqual(try store.unacknowledged().map(\.lease.job), [6])
        }
        try green {
            let store = try CollectorStore(directory: path, hub: Hub.current)
            defer { store.close() }
            XCTAssertEqual(try store.unacknowledged().map(\.lease.job), [6], "re-sent after a restart")
        }
    }

    func testPagingFollowsRecordingOrder() throws {
        let path = directory.path
        try green {
            let store = try CollectorStore(directory: path, hub: Hub.current)
            defer { store.close() }
            _ = try await completed { store.record([result(30), result(10)], completion: $0) }
            _ = try await completed { store.record([result(20), result(10, attempt: 2)], completion: $0) }
            let firstPage = try store.page(after: 0, limit: 2)
            XCTAssertEqual(firstPage.map(\.job), [30, 10])
            let rest = try store.page(after: firstPage.last!.seq, limit: 10)
            XCTAssertEqual(rest.map(\.job), [20])
            XCTAssertTrue(try store.page(after: rest.last!.seq, limit: 10).isEmpty)
        }
    }
}

/// A result of `job`'s `attempt`, its payload `text`.
private func result(_ job: UInt64, attempt: UInt32 = 1, status: JobStatus = .succeeded, _ text: String = "ok")
    -> StoredResult
{
    StoredResult(
        job: job, attempt: attempt, handler: "echo", status: status, payload: Array(text.utf8),
        durationMicroseconds: 1234, recordedAt: 1_700_000_000_001)
}
