import Evy

/// One ``JobClient/submitMany(_:window:)`` in progress: the request ids it owns (one range, the
/// job's index added to `first`), the ids answered so far, how many submits await their answer,
/// and the first refusal. The client's reader fills it in; the submitting green thread waits on
/// it. Hub-confined.
final class SubmitBatch: @unchecked Sendable {
    let first: UInt64
    private(set) var ids: [UInt64]
    var inFlight = 0
    private var failure: (any Error)?
    private let answers = Flag()

    init(first: UInt64, count: Int) {
        self.first = first
        ids = [UInt64](repeating: 0, count: count)
    }

    /// Whether `request` is one of this batch's.
    func owns(_ request: UInt64) -> Bool { request >= first && request - first < UInt64(ids.count) }

    /// The dispatcher's acknowledgement of `request`: job `job`.
    func answered(_ request: UInt64, job: UInt64) {
        let index = Int(request - first)
        guard ids[index] == 0 else { return }  // an answer twice is counted once
        ids[index] = job
        inFlight -= 1
        answers.set()
    }

    /// A refusal: the batch stops at the next wait.
    func failed(_ error: any Error) {
        failure = failure ?? error
        answers.set()
    }

    /// Waits until at least one answer or refusal has come since the last wait; throws the
    /// refusal, or ``JobClientError/noAnswer(_:)`` after `timeout` with none.
    func awaitAnswers(timeout: Duration) async throws {
        if let failure { throw failure }
        answers.clear()
        guard try await answers.wait(timeout: timeout) else {
            if let failure { throw failure }
            throw JobClientError.noAnswer("\(inFlight) submits")
        }
        if let failure { throw failure }
    }
}
