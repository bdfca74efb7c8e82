/// A cooperative mutual-exclusion lock: one green thread at a time holds it; others wait in FIFO
/// order. Not reentrant (see ``RLock``).
///
/// ```swift
/// let lock = Lock()
/// try await lock.withLock { balance += amount }
/// ```
/// Green threads switch only where they wait, so a lock is needed only around code that waits in
/// the middle of an update. Hub-confined.
public final class Lock: @unchecked Sendable {
    let permits = Permits(1)
    /// The green thread that took the lock (a plain lock may be released by another one; a
    /// ``Condition`` over it checks this).
    private(set) var holder: GreenIdentity?

    /// Creates an unlocked lock.
    public init() {}

    /// Takes the lock, waiting while another green thread holds it. Returns false if `timeout`
    /// passes first; throws `CancellationError` if the green thread is killed while waiting.
    @discardableResult
    public func acquire(timeout: Duration? = nil) async throws -> Bool {
        guard try await permits.take(timeout: timeout) else { return false }
        holder = GreenIdentity.current
        return true
    }

    /// Takes the lock if it is free now.
    public func tryAcquire() -> Bool {
        guard permits.tryTake() else { return false }
        holder = GreenIdentity.current
        return true
    }

    /// Releases the lock; throws ``SynchronizationError/releasedTooOften`` if it is not locked.
    public func release() throws {
        guard permits.available == 0 else { throw SynchronizationError.releasedTooOften }
        holder = nil
        permits.give()
    }

    /// Takes the lock back even if the green thread is being cancelled (a condition's wait).
    func acquireUninterruptibly() async {
        await permits.takeUninterruptibly()
        holder = GreenIdentity.current
    }

    /// Whether some green thread holds the lock.
    public var isLocked: Bool { permits.available == 0 }

    /// Runs `body` holding the lock.
    public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { try? release() }
        return try await body()
    }
}

/// A reentrant lock: the green thread that holds it may take it again, and must release it as many
/// times. Releasing it from another green thread throws ``SynchronizationError/notOwner``.
/// Hub-confined.
public final class RLock: @unchecked Sendable {
    let permits = Permits(1)
    private(set) var owner: GreenIdentity?
    private(set) var depth = 0

    /// Creates an unlocked reentrant lock.
    public init() {}

    /// Takes the lock (again, if this green thread holds it). Returns false if `timeout` passes
    /// first.
    @discardableResult
    public func acquire(timeout: Duration? = nil) async throws -> Bool {
        let me = GreenIdentity.current
        if owner == me {
            depth += 1
            return true
        }
        guard try await permits.take(timeout: timeout) else { return false }
        owner = me
        depth = 1
        return true
    }

    /// Takes the lock if this green thread holds it or it is free now.
    public func tryAcquire() -> Bool {
        let me = GreenIdentity.current
        if owner == me {
            depth += 1
            return true
        }
        guard permits.tryTake() else { return false }
        owner = me
        depth = 1
        return true
    }

    /// Releases one level of the lock; throws ``SynchronizationError/notOwner`` unless this green
    /// thread holds it.
    public func release() throws {
        guard owner == GreenIdentity.current, depth > 0 else { throw SynchronizationError.notOwner }
        depth -= 1
        if depth == 0 {
            owner = nil
            permits.give()
        }
    }

    /// Whether the calling green thread holds the lock.
    public var isOwnedByCurrentGreenThread: Bool { owner == GreenIdentity.current }

    /// Whether some green thread holds the lock.
    public var isLocked: Bool { owner != nil }

    /// Runs `body` holding the lock.
    public func withLock<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { try? release() }
        return try await body()
    }

    /// Releases every level at once; returns the depth, for ``restore(depth:)``.
    func releaseAll() throws -> Int {
        guard owner == GreenIdentity.current, depth > 0 else { throw SynchronizationError.notOwner }
        let saved = depth
        depth = 0
        owner = nil
        permits.give()
        return saved
    }

    /// Takes the lock back at `depth`, even if the green thread is being cancelled.
    func restore(depth saved: Int) async {
        await permits.takeUninterruptibly()
        owner = GreenIdentity.current
        depth = saved
    }
}
