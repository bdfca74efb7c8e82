/// A callback scheduled on a hub; cancel it to keep it from running.
///
/// Returned by ``Hub/callSoon(_:)``, ``Hub/callLater(_:_:)``, ``Hub/callAt(_:_:)``,
/// ``Hub/callFromThread(_:)`` and the reader, writer and signal registrations. Like every hub method
/// other than ``Hub/callFromThread(_:)``, ``cancel()`` belongs on the hub's thread.
public final class Handle: @unchecked Sendable {
    private var callback: (() -> Void)?
    private unowned let hub: Hub
    private let isTimer: Bool
    private let onCancel: (() -> Void)?

    init(hub: Hub, isTimer: Bool = false, onCancel: (() -> Void)? = nil, _ callback: @escaping () -> Void) {
        self.hub = hub
        self.isTimer = isTimer
        self.onCancel = onCancel
        self.callback = callback
    }

    /// Whether the callback was cancelled before it ran.
    public private(set) var isCancelled = false

    /// Whether the callback has run (for repeating registrations: has run at least once).
    public private(set) var hasRun = false

    /// Keeps the callback from running if it has not run yet. Calling it twice is harmless.
    public func cancel() {
        guard !isCancelled, callback != nil else { return }
        isCancelled = true
        callback = nil
        if isTimer { hub.timerCancelled() }
        onCancel?()
    }

    /// Runs a one-shot callback and forgets it.
    func fire() {
        guard let callback else { return }
        self.callback = nil
        hasRun = true
        callback()
    }

    /// Runs a repeating callback (readers, writers, signals) and keeps it.
    func fireRepeating() {
        guard let callback else { return }
        hasRun = true
        callback()
    }
}
