import DequeModule

/// A pool that runs at most `size` green threads at once (Eventlet's `GreenPool`).
///
/// ``spawn(name:_:)`` waits while the pool is full, which is how a pool bounds concurrency and
/// applies back-pressure to whoever feeds it. ``imap(_:_:)`` maps a function over inputs
/// concurrently, yielding results in input order with at most `size` results held in memory.
///
/// ```swift
/// let pool = GreenPool(size: 200)
/// for try await body in pool.imap(urls, { try await fetch($0) }) {
///     print(body.count)
/// }
/// ```
/// A green thread of the pool that spawns into its own full pool runs the new work inline instead
/// of deadlocking (the recursive crawler relies on this). Hub-confined.
public final class GreenPool: @unchecked Sendable {
    /// The most green threads the pool runs at once.
    public private(set) var size: Int
    /// Green threads of the pool running now (may exceed ``size`` just after a shrinking resize).
    public private(set) var running = 0
    private var slotWaiters = WaiterQueue<Waiter<Void>>()
    private var idleWaiters = WaiterQueue<Waiter<Void>>()

    /// The name it shows under in the hub's ``Hub/poolSnapshots()`` and its green threads'
    /// ``GreenThreadSnapshot/pool``.
    public let name: String?

    /// Creates a pool of at most `size` concurrent green threads (at least 0), `name`d for
    /// inspection.
    public init(size: Int = 1000, name: String? = nil) {
        precondition(size >= 0, "a pool's size is 0 or more, not \(size)")
        self.size = size
        self.name = name
        Hub.ofCurrentThread?.register(self) { [weak self] in
            self.map {
                PoolSnapshot(
                    kind: "GreenPool", name: $0.name, size: $0.size, inUse: $0.running, free: $0.free,
                    waiting: $0.waiting)
            }
        }
    }

    /// Free slots: ``size`` minus ``running``; negative after a shrinking resize, until enough
    /// green threads have finished.
    public var free: Int { size - running }

    /// Green threads waiting in ``spawn(name:_:)`` for a free slot.
    public var waiting: Int { slotWaiters.liveCount }

    private var isInsideThisPool: Bool { GreenContext.current?.pool == ObjectIdentifier(self) }

    /// Takes a slot, waiting for one; false means "run inline" (full pool, caller is a member).
    private func takeSlot() async throws -> Bool {
        if tryTakeSlot() { return true }
        if isInsideThisPool { return false }
        try await Hub.current.park { waiter in
            if tryTakeSlot() { waiter.resume(returning: ()) } else { slotWaiters.append(waiter) }
        }
        return true
    }

    private func tryTakeSlot() -> Bool {
        guard running < size && waiting == 0 else { return false }
        running += 1
        return true
    }

    private func slotFreed() {
        running -= 1
        while running < size, let waiter = slotWaiters.popFirst() {
            if waiter.isWaiting {
                running += 1
                waiter.resume(returning: ())
            }
        }
        if running == 0 {
            for waiter in idleWaiters.takeAll() { waiter.resume(returning: ()) }
        }
    }

    /// Starts `body` in the pool, first waiting for a free slot, and returns its handle.
    /// Throws `CancellationError` if the caller is killed while waiting for a slot.
    @discardableResult
    public func spawn<Value: Sendable>(
        name: String? = nil, _ body: @escaping @Sendable () async throws -> Value
    ) async throws -> GreenThread<Value> {
        let hub = Hub.current
        guard try await takeSlot() else {
            let outcome: Result<Value, any Error>
            do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
            return GreenThread.finished(on: hub, name: name, outcome: outcome)
        }
        return GreenThread.start(
            on: hub, name: name, pool: ObjectIdentifier(self), after: nil,
            onExit: { [self] in slotFreed() }, body: body)
    }

    /// Starts `body` in the pool without a handle, first waiting for a free slot. Errors thrown by
    /// `body` are logged.
    public func spawnN(name: String? = nil, _ body: @escaping @Sendable () async throws -> Void) async throws {
        guard try await takeSlot() else {
            do { try await body() } catch { logFailure(of: name, error) }
            return
        }
        let hub = Hub.current
        startDetached(
            on: hub, name: name, pool: ObjectIdentifier(self),
            onExit: { [self] in
                // Runs on the hub: the task ends there.
                slotFreed()
            }, body)
    }

    /// Waits until every green thread of the pool has finished. Throws
    /// ``GreenPoolError/waitAllFromInside`` if called by one of them (it would never return).
    public func waitAll() async throws {
        guard !isInsideThisPool else { throw GreenPoolError.waitAllFromInside }
        guard running > 0 else { return }
        try await Hub.current.park { waiter in
            if running == 0 { waiter.resume(returning: ()) } else { idleWaiters.append(waiter) }
        }
    }

    /// Changes the pool's size. Growing it lets waiting spawns start at once; shrinking it never
    /// stops running green threads, so ``free`` may go negative for a while.
    public func resize(_ newSize: Int) {
        precondition(newSize >= 0, "a pool's size is 0 or more, not \(newSize)")
        size = newSize
        while running < size, let waiter = slotWaiters.popFirst() {
            if waiter.isWaiting {
                running += 1
                waiter.resume(returning: ())
            }
        }
    }
}

/// Misuse of a ``GreenPool``.
public enum GreenPoolError: Error, CustomStringConvertible, Equatable {
    /// ``GreenPool/waitAll()`` was called from one of the pool's own green threads.
    case waitAllFromInside

    public var description: String {
        "waitAll() called from one of the pool's own green threads would never return"
    }
}
