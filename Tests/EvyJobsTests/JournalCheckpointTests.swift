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
                _ = try await completed { journal.submit(newJob("h\(index)", payload: [UInt8](repeating: 7, count: 2000)), completion: $0) }
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
}
