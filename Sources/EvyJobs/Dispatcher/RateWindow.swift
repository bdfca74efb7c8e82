import DequeModule

/// Per-second rates of a few counters over a sliding window, from samples taken now and then
/// (each heartbeat): what `evy status` shows as submitted/s and done/s. Pure value; the caller
/// passes the time.
struct RateWindow {
    private var samples = Deque<(at: ContinuousClock.Instant, counts: [Int])>()
    /// How far back the rates look.
    let span: Duration

    init(span: Duration = .seconds(10)) { self.span = span }

    /// Records the counters' values at `now`, forgetting samples older than the span.
    mutating func record(_ counts: [Int], at now: ContinuousClock.Instant) {
        samples.append((now, counts))
        while let first = samples.first, now - first.at > span, samples.count > 2 { samples.removeFirst() }
    }

    /// Each counter's increase per second between the oldest sample and `now`'s `counts`
    /// (zeros before the first sample).
    func perSecond(_ counts: [Int], at now: ContinuousClock.Instant) -> [Double] {
        guard let first = samples.first else { return counts.map { _ in 0 } }
        let seconds = Double((now - first.at) / .milliseconds(1)) / 1000
        guard seconds > 0 else { return counts.map { _ in 0 } }
        return zip(counts, first.counts).map { Double($0 - $1) / seconds }
    }
}
