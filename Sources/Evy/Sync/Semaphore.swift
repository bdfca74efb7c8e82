/// A cooperative counting semaphore: ``acquire(timeout:)`` takes a permit, waiting while there is
/// none; ``release()`` returns one, waking the longest waiter.
///
/// ```swift
/// let slots = Semaphore(3)
/// try await slots.withPermit { try await download(url) }   // at most 3 at once
/// ```
/// Hub-confined: share it only between green threads of one hub.
public final class Semaphore: @unchecked Sendable {
    let permits: Permits

    /// Creates a semaphore holding `value` permits (at least 0).
    public init(_ value: Int = 1) {
        precondition(value >= 0, "a semaphore starts with 0 or more permits, not \(value)")
        permits = Permits(value)
    }

    /// Takes a permit, waiting for one if none is free. Returns false if `timeout` passes first.
    /// Throws `CancellationError` if the green thread is killed while waiting.
    @discardableResult
    public func acquire(timeout: Duration? = nil) async throws -> Bool {
        try await permits.take(timeout: timeout)
    }

    /// Takes a permit if one is free now, without waiting.
    public func tryAcquire() -> Bool { permits.tryTake() }

    /// Returns a permit, handing it to the longest-waiting green thread if there is one.
    public func release() { permits.give() }

    /// Runs `body` holding a permit, and returns the permit afterwards, however `body` ends.
    public func withPermit<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { release() }
        return try await body()
    }

    /// The free permits now.
    public var value: Int { permits.available }

    /// Free permits minus waiting green threads (Eventlet's `balance`): negative while some wait.
    public var balance: Int { permits.available - permits.waitingCount }

    /// Whether a call to ``acquire(timeout:)`` would wait.
    public var isLocked: Bool { permits.available == 0 }
}

/// A semaphore that refuses to be released more often than it was acquired: releasing beyond its
/// initial value throws ``SynchronizationError/releasedTooOften``, a sign of a bug.
public final class BoundedSemaphore: @unchecked Sendable {
    let permits: Permits
    /// The initial, and largest, number of permits.
    public let limit: Int

    /// Creates a bounded semaphore holding `value` permits (at least 0).
    public init(_ value: Int = 1) {
        precondition(value >= 0, "a semaphore starts with 0 or more permits, not \(value)")
        permits = Permits(value)
        limit = value
    }

    /// Takes a permit, waiting for one if none is free. Returns false if `timeout` passes first.
    @discardableResult
    public func acquire(timeout: Duration? = nil) async throws -> Bool {
        try await permits.take(timeout: timeout)
    }

    /// Takes a permit if one is free now, without waiting.
    public func tryAcquire() -> Bool { permits.tryTake() }

    /// Returns a permit; throws ``SynchronizationError/releasedTooOften`` if all are already back.
    public func release() throws {
        guard permits.available < limit else { throw SynchronizationError.releasedTooOften }
        permits.give()
    }

    /// Runs `body` holding a permit.
    public func withPermit<T>(_ body: () async throws -> T) async throws -> T {
        try await acquire()
        defer { try? release() }
        return try await body()
    }

    /// The free permits now.
    public var value: Int { permits.available }

    /// Free permits minus waiting green threads: negative while some wait.
    public var balance: Int { permits.available - permits.waitingCount }
}

/// Misuse of a lock, semaphore or condition.
public enum SynchronizationError: Error, CustomStringConvertible, Equatable {
    /// A bounded semaphore or a lock was released more often than acquired.
    case releasedTooOften
    /// An ``RLock`` or ``Condition`` was used by a green thread that does not own the lock.
    case notOwner
    /// An ``Event`` was sent a second time without ``Event/reset()``.
    case alreadySent

    public var description: String {
        switch self {
        case .releasedTooOften: "released more often than acquired"
        case .notOwner: "the lock is not held by this green thread"
        case .alreadySent: "the event has already been sent; reset it first"
        }
    }
}

/// A semaphore whose count stays between 0 and `limit` by waiting at both ends (Eventlet's
/// `CappedSemaphore`): ``acquire(timeout:)`` waits while the count is 0, ``release(timeout:)`` waits
/// while it is at `limit`.
public final class CappedSemaphore: @unchecked Sendable {
    private let lower: Semaphore
    private let upper: Semaphore
    /// The largest count.
    public let limit: Int

    /// Creates a semaphore with `count` permits (0...limit) that never holds more than `limit`.
    public init(_ count: Int, limit: Int) {
        precondition(count >= 0 && count <= limit, "a capped semaphore starts with 0...limit permits")
        lower = Semaphore(count)
        upper = Semaphore(limit - count)
        self.limit = limit
    }

    /// Takes a permit, waiting while there is none. Returns false if `timeout` passes first.
    @discardableResult
    public func acquire(timeout: Duration? = nil) async throws -> Bool {
        guard try await lower.acquire(timeout: timeout) else { return false }
        upper.release()
        return true
    }

    /// Returns a permit, waiting while the count is at `limit`. Returns false if `timeout` passes
    /// first.
    @discardableResult
    public func release(timeout: Duration? = nil) async throws -> Bool {
        guard try await upper.acquire(timeout: timeout) else { return false }
        lower.release()
        return true
    }

    /// The permits available now.
    public var value: Int { lower.value }

    /// Available permits minus green threads waiting to acquire (negative while some wait).
    public var balance: Int { lower.balance - upper.permits.waitingCount }
}
