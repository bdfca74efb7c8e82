import Evy

/// One registration for outcomes at the collector (an ``JobClient/outcomes(of:progress:)``
/// stream, or a ``JobPile``): the jobs whose outcome has not come yet, where outcomes and
/// progress go, and when the collector was last heard of for it (a collector that restarted
/// forgets its waiters: a registration silent for a while asks again for the jobs it still waits
/// for). Each job's outcome is delivered once.
///
/// The collector is asked about at most a window of jobs at once (``nextAsks(window:)``; it
/// bounds what one client may make it keep): the rest wait here, in the order they came, and are
/// asked about as outcomes free room. Hub-confined.
final class OutcomeWait: @unchecked Sendable {
    typealias Progress = (UInt64, UInt64, UInt64, String) -> Void

    /// The jobs whose outcome has not come.
    private(set) var left: Set<UInt64>
    /// Those of ``left`` the collector has been asked about.
    private(set) var asked: Set<UInt64> = []
    /// Jobs not asked about yet, in order, from `unaskedStart` on.
    private var unasked: [UInt64]
    private var unaskedStart = 0
    private let deliverOutcome: (JobOutcome) -> Void
    private let end: ((any Error)?) -> Void
    /// Whether the registration ends after its last outcome (a stream) or stays for more jobs (a pile).
    private let endsWhenEmpty: Bool
    let progress: Progress?
    private(set) var lastHeard = ContinuousClock.now
    /// Whether it has ended (every outcome delivered, failed, or forgotten).
    private(set) var isFinished = false
    /// Whether the collector refused some of the jobs asked about (busy) since the last ask.
    private(set) var wasRefused = false
    /// The green thread that asks the collector (again); stopped when the registration ends.
    var refresher: GreenThread<Void>?

    init(
        jobs: [UInt64], endsWhenEmpty: Bool = true, progress: Progress? = nil,
        deliver: @escaping (JobOutcome) -> Void, end: @escaping ((any Error)?) -> Void
    ) {
        left = Set(jobs)
        unasked = jobs
        self.endsWhenEmpty = endsWhenEmpty
        self.progress = progress
        deliverOutcome = deliver
        self.end = end
    }

    /// Waits for these jobs too.
    func add(_ jobs: [UInt64]) {
        left.formUnion(jobs)
        unasked += jobs
    }

    /// Whether jobs wait to be asked about and the collector has fewer than half of `window`.
    func wantsMoreAsks(window: Int) -> Bool { unaskedStart < unasked.count && asked.count <= window / 2 }

    /// The next jobs to ask the collector about, so that at most `window` are asked at once;
    /// they count as asked from now on.
    func nextAsks(window: Int) -> [UInt64] {
        var jobs: [UInt64] = []
        while asked.count < window, unaskedStart < unasked.count {
            let job = unasked[unaskedStart]
            unaskedStart += 1
            if left.contains(job) && asked.insert(job).inserted { jobs.append(job) }
        }
        if unaskedStart == unasked.count {
            unasked = []
            unaskedStart = 0
        } else if unaskedStart > 4096 && unaskedStart * 2 > unasked.count {
            unasked.removeFirst(unaskedStart)
            unaskedStart = 0
        }
        return jobs
    }

    /// Delivers `outcome` unless it was delivered before; ends a stream after its last one.
    func deliver(_ outcome: JobOutcome) {
        lastHeard = .now
        guard !isFinished, left.remove(outcome.job) != nil else { return }
        asked.remove(outcome.job)
        deliverOutcome(outcome)
        if left.isEmpty && endsWhenEmpty { finish(nil) }
    }

    /// Notes that the collector refused to wait for some of the jobs asked about: the refresh
    /// asks again for all of them after its pause, whatever other news comes meanwhile.
    func refused() { wasRefused = true }

    /// Clears the refusal before asking again; returns whether there was one.
    func takeRefusal() -> Bool {
        defer { wasRefused = false }
        return wasRefused
    }

    /// Notes news (progress) of one of the jobs.
    func heard() { lastHeard = .now }

    /// Ends the registration without telling its owner (who has gone, or stopped listening).
    func abandon() {
        isFinished = true
        left = []
        asked = []
        unasked = []
        refresher?.cancel()
    }

    /// Ends the registration: with `error`, or quietly (nil).
    func finish(_ error: (any Error)?) {
        guard !isFinished else { return }
        isFinished = true
        left = []
        asked = []
        unasked = []
        refresher?.cancel()
        end(error)
    }
}
