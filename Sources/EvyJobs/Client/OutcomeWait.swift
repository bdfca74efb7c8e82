import Evy

/// One registration for outcomes at the collector (an ``JobClient/outcomes(of:progress:)``
/// stream, or a ``JobPile``): the jobs whose outcome has not come yet, where outcomes and
/// progress go, and when the collector was last heard of for it (a collector that restarted
/// forgets its waiters: a registration silent for a while asks again for the jobs it still waits
/// for). Each job's outcome is delivered once. Hub-confined.
final class OutcomeWait: @unchecked Sendable {
    typealias Progress = (UInt64, UInt64, UInt64, String) -> Void

    private(set) var left: Set<UInt64>
    private let deliverOutcome: (JobOutcome) -> Void
    private let end: ((any Error)?) -> Void
    /// Whether the registration ends after its last outcome (a stream) or stays for more jobs (a pile).
    private let endsWhenEmpty: Bool
    let progress: Progress?
    private(set) var lastHeard = ContinuousClock.now
    /// Whether it has ended (every outcome delivered, failed, or forgotten).
    private(set) var isFinished = false
    /// The green thread that asks the collector (again); stopped when the registration ends.
    var refresher: GreenThread<Void>?

    init(
        jobs: [UInt64], endsWhenEmpty: Bool = true, progress: Progress? = nil,
        deliver: @escaping (JobOutcome) -> Void, end: @escaping ((any Error)?) -> Void
    ) {
        left = Set(jobs)
        self.endsWhenEmpty = endsWhenEmpty
        self.progress = progress
        deliverOutcome = deliver
        self.end = end
    }

    /// Waits for these jobs too.
    func add(_ jobs: [UInt64]) { left.formUnion(jobs) }

    /// Delivers `outcome` unless it was delivered before; ends a stream after its last one.
    func deliver(_ outcome: JobOutcome) {
        lastHeard = .now
        guard !isFinished, left.remove(outcome.job) != nil else { return }
        deliverOutcome(outcome)
        if left.isEmpty && endsWhenEmpty { finish(nil) }
    }

    /// Notes news (progress) of one of the jobs.
    func heard() { lastHeard = .now }

    /// Ends the registration without telling its owner (who has gone, or stopped listening).
    func abandon() {
        isFinished = true
        left = []
        refresher?.cancel()
    }

    /// Ends the registration: with `error`, or quietly (nil).
    func finish(_ error: (any Error)?) {
        guard !isFinished else { return }
        isFinished = true
        left = []
        refresher?.cancel()
        end(error)
    }
}
