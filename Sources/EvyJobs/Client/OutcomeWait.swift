import Evy

/// One ``JobClient/outcomes(of:progress:)`` stream while it waits: the jobs whose outcome has
/// not come yet, where to deliver outcomes and progress, and when the collector was last heard
/// of for it (a collector that restarted forgets its waiters: a stream silent for a while asks
/// again for the jobs it still waits for). Hub-confined.
final class OutcomeWait: @unchecked Sendable {
    typealias Progress = (UInt64, UInt64, UInt64, String) -> Void

    private(set) var left: Set<UInt64>
    private let continuation: AsyncThrowingStream<JobOutcome, any Error>.Continuation
    let progress: Progress?
    private(set) var lastHeard = ContinuousClock.now

    init(
        jobs: [UInt64], continuation: AsyncThrowingStream<JobOutcome, any Error>.Continuation, progress: Progress?
    ) {
        left = Set(jobs)
        self.continuation = continuation
        self.progress = progress
    }

    /// Whether every outcome has been delivered (or the stream failed).
    var isFinished: Bool { left.isEmpty }

    /// Delivers `outcome` unless it was delivered before; finishes the stream after the last one.
    func deliver(_ outcome: JobOutcome) {
        lastHeard = .now
        guard left.remove(outcome.job) != nil else { return }
        continuation.yield(outcome)
        if left.isEmpty { continuation.finish() }
    }

    /// Notes progress of one of the jobs.
    func heard() { lastHeard = .now }

    /// Ends the stream with `error`.
    func fail(_ error: any Error) {
        left = []
        continuation.finish(throwing: error)
    }
}
