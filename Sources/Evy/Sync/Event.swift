/// A one-shot result that many green threads can wait for (Eventlet's `event.Event`): one green
/// thread ``send(_:)``s a value or an error, every waiter gets it, and later waiters get it at once
/// until ``reset()``.
///
/// ```swift
/// let done = Event<String>()
/// spawn { try await sleep(for: .milliseconds(5)); try done.send("hello") }
/// print(try await done.wait())   // hello
/// ```
/// Hub-confined.
public final class Event<Value: Sendable>: @unchecked Sendable {
    private var result: Result<Value, any Error>?
    private var waiters = WaiterQueue<Waiter<Result<Value, any Error>>>()
    /// How many green threads are waiting now (tests wait for it to reach a number).
    var waitingCount: Int { waiters.liveCount }

    /// Creates an event that has not been sent.
    public init() {}

    /// Waits until the event is sent, and returns its value or throws its error. With a `timeout`,
    /// throws ``TimeoutError`` if nothing was sent by then.
    public func wait(timeout: Duration? = nil) async throws -> Value {
        if let result { return try result.get() }
        let hub = Hub.current
        do {
            // Each waiter is handed the outcome itself: a reset right after the send must not
            // take it away from green threads that were already woken.
            hub.nextWaitLabel.pointee = "event"
            return try await hub.park(deadline: hub.deadline(after: timeout)) { waiter in
                if let result { waiter.resume(returning: result) } else { waiters.append(waiter) }
            }.get()
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }

    /// Sends `value` to every waiter. Throws ``SynchronizationError/alreadySent`` if the event was
    /// already sent and not reset.
    public func send(_ value: Value) throws { try complete(.success(value)) }

    /// Sends `error`: every waiter throws it.
    public func send(error: any Error) throws { try complete(.failure(error)) }

    private func complete(_ outcome: Result<Value, any Error>) throws {
        guard result == nil else { throw SynchronizationError.alreadySent }
        result = outcome
        for waiter in waiters.takeAll() { waiter.resume(returning: outcome) }
    }

    /// Whether a value or error has been sent.
    public var isReady: Bool { result != nil }

    /// Whether an error has been sent.
    public var hasError: Bool {
        if case .failure = result { return true }
        return false
    }

    /// The sent value or error, without waiting (Eventlet's `poll`).
    public var outcome: Result<Value, any Error>? { result }

    /// Makes the event unsent again, so it can be sent once more.
    public func reset() { result = nil }
}

/// A flag green threads can wait on (`threading.Event`, Evergreen's `Event`): ``set()`` wakes every
/// waiter and lets later ones through until ``clear()``.
///
/// ```swift
/// let started = Flag()
/// spawn { serve(); started.set() }
/// try await started.wait()
/// ```
/// Hub-confined.
public final class Flag: @unchecked Sendable {
    private var waiters = WaiterQueue<Waiter<Void>>()
    /// How many green threads are waiting now (tests wait for it to reach a number).
    var waitingCount: Int { waiters.liveCount }

    /// Creates a cleared flag.
    public init() {}

    /// Whether the flag is set.
    public private(set) var isSet = false

    /// Sets the flag and wakes every waiting green thread.
    public func set() {
        isSet = true
        for waiter in waiters.takeAll() { waiter.resume(returning: ()) }
    }

    /// Clears the flag: later waits block until the next ``set()``.
    public func clear() { isSet = false }

    /// Waits until the flag is set; returns the flag: false if `timeout` passed first.
    @discardableResult
    public func wait(timeout: Duration? = nil) async throws -> Bool {
        if isSet { return true }
        let hub = Hub.current
        do {
            hub.nextWaitLabel.pointee = "event"
            try await hub.park(deadline: hub.deadline(after: timeout)) { waiter in
                if isSet { waiter.resume(returning: ()) } else { waiters.append(waiter) }
            }
        } catch is ParkTimedOut {
            return isSet
        }
        return true
    }
}
