import Evy
import Foundation

@testable import EvyJobs

/// A fresh directory under the temporary directory; `remove()` deletes it and what it holds.
struct TemporaryDirectory {
    let path: String

    init(_ name: String = #function) {
        path = NSTemporaryDirectory() + "evy-journal-\(name.filter(\.isLetter))-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Starts a completion-style call and waits (in a green thread) for its completion's result.
func completed<T: Sendable>(
    _ start: (@escaping @Sendable (Result<T, JournalError>) -> Void) -> Void
) async throws -> T {
    let event = Event<Result<T, JournalError>>()
    start { result in try? event.send(result) }
    return try await event.wait().get()
}

/// A job for `handler` with `dedupKey`, its payload the handler's name.
func newJob(_ handler: String = "echo", dedupKey: String = "", payload: [UInt8]? = nil) -> NewJob {
    var options = JobOptions()
    options.dedupKey = dedupKey
    options.priority = 7
    options.concurrencyKey = "k"
    options.concurrencyLimit = 3
    return NewJob(
        handler: handler, options: options, payload: payload ?? Array(handler.utf8), submittedAt: 1_700_000_000_000)
}

extension SubmitOutcome {
    /// The accepted job's id, or the duplicate's.
    var jobID: UInt64 {
        switch self {
        case .accepted(let job): job.id
        case .duplicate(let id): id
        }
    }
}
