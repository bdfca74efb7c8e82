import DequeModule

/// A condition variable: green threads holding its lock wait for another to ``notify(_:)`` them
/// (`threading.Condition`).
///
/// ```swift
/// let ready = Condition()
/// // consumer
/// try await ready.withLock { while items.isEmpty { try await ready.wait() }; use(items.removeFirst()) }
/// // producer
/// try await ready.withLock { items.append(item); try ready.notify() }
/// ```
/// Hub-confined.
public final class Condition: @unchecked Sendable {
    private enum Underlying {
        case plain(Lock)
        case reentrant(RLock)
    }

    private let lock: Underlying
    private var waiters = WaiterQueue<Waiter<Void>>()
    /// How many green threads are waiting now (tests wait for it to reach a number).
    var waitingCount: Int { waiters.liveCount }

    /// Creates a condition over a new ``RLock``.
    public convenience init() { self.init(lock: RLock()) }

    /// Creates a condition over `lock`.
    public init(lock: RLock) { self.lock = .reentrant(lock) }

    /// Creates a condition over a plain `lock`.
    public init(lock: Lock) { self.lock = .plain(lock) }

    /// Takes the condition's lock. Returns false if `timeout` passes first.
    @discardableResult
    public func acquire(timeout: Duration? = nil) async throws -> Bool {
        switch lock {
        case .reentrant(let lock): return try await lock.acquire(timeout: timeout)
        case .plain(let lock): return try await lock.acquire(timeout: timeout)
        }
    }

    /// Releases the condition's lock.
    public func release() throws {
        switch lock {
        case .reentrant(let lock): try lock.release()
        case .plain(let lock):
            try checkOwner()
            try lock.release()
        }
    }

    /// Runs `body` holding the condition's lock.
    public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { try? release() }
        return try await body()
    }

    private func checkOwner() throws {
        switch lock {
        case .reentrant(let lock):
            guard lock.isOwnedByCurrentGreenThread else { throw SynchronizationError.notOwner }
        case .plain(let lock):
            guard lock.isLocked, lock.holder == GreenIdentity.current else { throw SynchronizationError.notOwner }
        }
    }

    /// Releases the lock, waits until notified or until `timeout` passes, then takes the lock back
    /// (always, even when cancelled). Returns false on timeout. The caller must hold the lock, or
    /// ``SynchronizationError/notOwner`` is thrown.
    @discardableResult
    public func wait(timeout: Duration? = nil) async throws -> Bool {
        try checkOwner()
        var saved = 1
        var released = false
        let hub = Hub.current
        var outcome: Result<Bool, any Error>
        do {
            // Join the waiters before letting go of the lock, in one step: a notify sent by the
            // next holder of the lock cannot be missed.
            hub.nextWaitLabel.pointee = "condition"
            try await hub.park(deadline: hub.deadline(after: timeout)) { waiter in
                waiters.append(waiter)
                released = true
                switch lock {
                case .reentrant(let lock): saved = (try? lock.releaseAll()) ?? 1
                case .plain(let lock):
                    try? lock.release()
                }
            }
            outcome = .success(true)
        } catch is ParkTimedOut {
            outcome = .success(false)
        } catch {
            outcome = .failure(error)
        }
        guard released else { return try outcome.get() }
        switch lock {
        case .reentrant(let lock): await lock.restore(depth: saved)
        case .plain(let lock):
            await lock.acquireUninterruptibly()
        }
        return try outcome.get()
    }

    /// Waits until `predicate` holds, re-checking it after each notification. Returns its last
    /// value: false if `timeout` passed first.
    public func wait(for predicate: () -> Bool, timeout: Duration? = nil) async throws -> Bool {
        let deadline = timeout.map { Hub.current.now.advanced(by: $0) }
        while !predicate() {
            let remaining = deadline.map { Hub.current.now.duration(to: $0) }
            if let remaining, remaining <= .zero { return predicate() }
            try await wait(timeout: remaining)
        }
        return true
    }

    /// Wakes up to `count` waiting green threads. The caller must hold the lock.
    public func notify(_ count: Int = 1) throws {
        try checkOwner()
        var woken = 0
        while woken < count, let waiter = waiters.popFirst() {
            if waiter.resume(returning: ()) { woken += 1 }
        }
    }

    /// Wakes every waiting green thread. The caller must hold the lock.
    public func notifyAll() throws {
        try notify(Int.max)
    }
}
