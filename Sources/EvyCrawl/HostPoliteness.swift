import Evy

/// Keeps a crawler polite: at most `concurrency` requests at once to one host, and at least
/// `delay` between the starts of two requests to it. Hub-confined.
///
/// ```swift
/// let polite = HostPoliteness(delay: .milliseconds(500))
/// let page = try await polite.visit(host) { try await client.get(url) }
/// ```
public final class HostPoliteness: @unchecked Sendable {
    private final class HostState {
        let slots: Evy.Semaphore
        var nextStart: ContinuousClock.Instant = .now
        init(concurrency: Int) { slots = Evy.Semaphore(concurrency) }
    }

    /// The pause between two requests to one host.
    public let delay: Duration
    /// Requests at once to one host.
    public let concurrency: Int
    private var hosts: [String: HostState] = [:]

    /// Politeness of `delay` between requests, `concurrency` at once, per host.
    public init(delay: Duration, concurrency: Int = 1) {
        self.delay = delay
        self.concurrency = concurrency
    }

    /// Runs `body` when `host` may be visited again.
    public func visit<T>(_ host: String, _ body: () async throws -> T) async throws -> T {
        let state = hosts[host.lowercased()] ?? HostState(concurrency: concurrency)
        hosts[host.lowercased()] = state
        try await state.slots.acquire()
        defer { state.slots.release() }
        // Take the next start time before waiting for it, so that two visitors never share one.
        let start = max(ContinuousClock.now, state.nextStart)
        state.nextStart = start.advanced(by: delay)
        let wait = ContinuousClock.now.duration(to: start)
        if wait > .zero { try await sleep(for: wait) }
        return try await body()
    }
}
