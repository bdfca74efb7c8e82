import Evy
import EvyTestSupport
import Foundation
import XCTest

@testable import EvyJobs

/// A full disk: a 2 MB tmpfs when this process may mount one (root), else SQLite's
/// `max_page_count` as a stand-in (then "freeing space" raises the limit).
final class JournalDiskFullTests: XCTestCase {
    private var directory: TemporaryDirectory!
    private var mounted = false

    override func setUp() {
        directory = TemporaryDirectory()
        mounted = run("/bin/mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", directory.path)
    }

    override func tearDown() {
        if mounted { _ = run("/bin/umount", "-l", directory.path) }
        directory.remove()
    }

    func testAFullDiskFailsSubmitsLosesNoAcceptedJobAndRecovers() throws {
        let path = directory.path
        let mounted = self.mounted
        let filler = path + "/filler"
        if mounted {
            XCTAssertTrue(FileManager.default.createFile(atPath: filler, contents: Data(count: 1024 * 1024)))
        }
        let accepted = try green(deadline: .seconds(60)) { () -> Set<UInt64> in
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            defer { journal.close() }
            if !mounted { try journal.execute("PRAGMA max_page_count = 200") }
            var accepted = Set<UInt64>()
            var failure: JournalError?
            for round in 0..<200 where failure == nil {
                for outcome in try await submitRound(journal, round: round) {
                    switch outcome {
                    case .success(let outcome): accepted.insert(outcome.jobID)
                    case .failure(let error): failure = error
                    }
                }
            }
            guard let failure else {
                XCTFail("the disk never filled")
                return accepted
            }
            guard case .full = failure else {
                XCTFail("expected .full, got \(failure)")
                return accepted
            }
            XCTAssertTrue(failure.description.contains("dispatcher.sqlite3"), failure.description)
            // Free space: later submits succeed again.
            if mounted {
                try FileManager.default.removeItem(atPath: filler)
            } else {
                try journal.execute("PRAGMA max_page_count = 100000")
            }
            for outcome in try await submitRound(journal, round: 1000) {
                accepted.insert(try outcome.get().jobID)
            }
            return accepted
        }
        print("disk full (\(mounted ? "2 MB tmpfs" : "max_page_count")): \(accepted.count) jobs accepted")
        try green {
            let journal = try DispatcherJournal(directory: path, hub: Hub.current)
            defer { journal.close() }
            let loaded = Set(try journal.loadPending().map(\.id))
            XCTAssertTrue(accepted.isSubset(of: loaded), "every accepted job survives")
        }
    }

    private func run(_ command: String, _ arguments: String...) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}

/// Submits 50 jobs of 2 KB at once and waits for all their outcomes.
private func submitRound(_ journal: DispatcherJournal, round: Int) async throws -> [Result<SubmitOutcome, JournalError>]
{
    let outcomes = Box<[Result<SubmitOutcome, JournalError>]>([])
    let all = Flag()
    for index in 0..<50 {
        journal.submit(newJob("r\(round)-\(index)", payload: [UInt8](repeating: 7, count: 2048))) { outcome in
            outcomes.value.append(outcome)
            if outcomes.value.count == 50 { all.set() }
        }
    }
    try await all.wait()
    return outcomes.value
}
