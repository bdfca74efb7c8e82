import Evy
import EvyTestSupport
import Foundation
import XCTest

@testable import EvyJobs

/// The WAL is checkpointed off the commit path (``Checkpointer``) and still stays short.
final class JournalCheckpointTests: XCTestCase {
    func testTheWALStaysShortThroughThousandsOfCommits() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path
        try green(deadline: .seconds(120)) {
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            // One commit per job (each waits for the one before), 2 KB each: without checkpoints
            // the WAL would pass 40 MB, and a steady stream of commits never lets it start over
            // by itself.
            let total = 5000
            for index in 0..<total {
                let job = newJob("h", dedupKey: "k\(index)", payload: [UInt8](repeating: 7, count: 2000))
                _ = try await completed { journal.submit(job, completion: $0) }
                // A duplicate reads the first job's id: that read must not stay open (an open read
                // makes every inline checkpoint fail with SQLITE_LOCKED, and the WAL grow).
                _ = try await completed { journal.submit(job, completion: $0) }
            }
            XCTAssertGreaterThan(journal.checkpoints, 0, "the checkpointer ran")
            let wal = (try FileManager.default.attributesOfItem(atPath: journal.path + "-wal")[.size] as? Int) ?? 0
            XCTAssertLessThan(wal, 24 << 20, "checkpoints kept the WAL short (\(wal) bytes)")
            XCTAssertEqual(try journal.loadPending().count, total, "every commit is in the journal")
            journal.close()
            XCTAssertFalse(
                FileManager.default.fileExists(atPath: journal.path + "-wal"), "the last connection to close removes the WAL")
            let reopened = try DispatcherJournal(directory: path, hub: Hub.current)
            defer { reopened.close() }
            XCTAssertEqual(try reopened.loadPending().count, total, "nothing lost across the close")
        }
    }

    func testTheCollectorsWALStaysShortThoughLookupsReadBetweenCommits() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path
        try green(deadline: .seconds(120)) {
            let store = try CollectorStore(directory: path, hub: Hub.current)
            defer { store.close() }
            // A lookup between commits leaves a read statement on the writer's connection; one
            // left open would make every inline checkpoint fail (SQLITE_LOCKED) and the WAL grow.
            let payload = String(repeating: "r", count: 2000)
            for job in 1...UInt64(5000) {
                _ = try await completed { done in
                    store.record(
                        [
                            StoredResult(
                                job: job, attempt: 1, handler: "h", status: .succeeded, payload: Array(payload.utf8),
                                durationMicroseconds: 1, recordedAt: 1)
                        ], completion: done)
                }
                _ = try await completed { store.lookup(jobs: [job + 1_000_000, job], completion: $0) }
            }
            let wal = (try FileManager.default.attributesOfItem(atPath: store.path + "-wal")[.size] as? Int) ?? 0
            XCTAssertLessThan(wal, 24 << 20, "checkpoints kept the WAL short (\(wal) bytes)")
            XCTAssertEqual(try store.count(), 5000)
        }
    }
}
