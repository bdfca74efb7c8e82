import DequeModule

/// A pool of reusable resources — connections, parsers, buffers — created on demand up to a
/// maximum (Eventlet's `pools.Pool`, the base of its database pool). A green thread takes an item,
/// uses it and gives it back; when all `maxSize` items are out, takers wait.
///
/// ```swift
/// let connections = ResourcePool(maxSize: 10) { try await Connection.open(host) }
/// let rows = try await connections.withItem { connection in try await connection.query(sql) }
/// ```
/// Hub-confined.
public final class ResourcePool<Item: Sendable>: @unchecked Sendable {
    /// The most items the pool creates.
    public private(set) var maxSize: Int
    /// Whether the most recently returned item is handed out first (a stack) or the oldest (a queue).
    public let lastInFirstOut: Bool
    private let create: @Sendable () async throws -> Item
    private var idle = Deque<Item>()
    private var waiters = WaiterQueue<Waiter<Item?>>()
    /// Items created and not discarded: idle plus taken (plus ones being created).
    public private(set) var currentSize = 0

    /// Creates a pool that makes items with `create`, `minSize` of them right away.
    public init(
        minSize: Int = 0, maxSize: Int = 4, lastInFirstOut: Bool = false,
        create: @escaping @Sendable () async throws -> Item
    ) async throws {
        precondition(minSize >= 0 && minSize <= maxSize, "a pool needs 0 <= minSize <= maxSize")
        self.maxSize = maxSize
        self.lastInFirstOut = lastInFirstOut
        self.create = create
        for _ in 0..<minSize {
            idle.append(try await create())
            currentSize += 1
        }
    }

    /// Items idle in the pool now.
    public var free: Int { idle.count + Swift.max(0, maxSize - currentSize) }

    /// Green threads waiting for an item.
    public var waiting: Int { waiters.liveCount }

    /// Takes an item: an idle one, a new one if fewer than `maxSize` exist, or the next one given
    /// back. Throws ``TimeoutError`` if `timeout` passes first, or `create`'s error.
    public func get(timeout: Duration? = nil) async throws -> Item {
        if let item = takeIdle() { return item }
        if currentSize < maxSize {
            currentSize += 1
            return try await createReserved()
        }
        let hub = Hub.current
        let handed: Item?
        do {
            // Resumed with an item, or with nil: a place was reserved for us to create one.
            handed = try await hub.park(deadline: hub.deadline(after: timeout)) { (waiter: Waiter<Item?>) in
                if let item = takeIdle() {
                    waiter.resume(returning: item)
                } else if currentSize < maxSize {
                    currentSize += 1
                    waiter.resume(returning: nil)
                } else {
                    waiters.append(waiter)
                }
            }
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
        if let handed { return handed }
        return try await createReserved()
    }

    private func takeIdle() -> Item? {
        guard !idle.isEmpty else { return nil }
        return lastInFirstOut ? idle.removeLast() : idle.removeFirst()
    }

    /// Creates an item in a place already counted in `currentSize`.
    private func createReserved() async throws -> Item {
        do {
            return try await create()
        } catch {
            currentSize -= 1
            wakeWaitersForCreation()
            throw error
        }
    }

    /// Gives `item` back: straight to the longest waiter, or into the idle set.
    public func put(_ item: Item) {
        while let waiter = waiters.popFirst() {
            if waiter.resume(returning: item) { return }
        }
        if currentSize > maxSize {
            currentSize -= 1  // the pool shrank: let this one go
            return
        }
        idle.append(item)
    }

    /// Drops a taken item that is broken instead of giving it back, freeing its place.
    public func discard(_ item: Item) {
        currentSize -= 1
        wakeWaitersForCreation()
    }

    /// Hands free places to waiters, reserving each place before waking its waiter.
    private func wakeWaitersForCreation() {
        while currentSize < maxSize, let waiter = waiters.popFirst() {
            guard waiter.isWaiting else { continue }
            currentSize += 1
            waiter.resume(returning: nil)
        }
    }

    /// Takes an item, runs `body` with it and gives it back, however `body` ends.
    public func withItem<T>(timeout: Duration? = nil, _ body: (Item) async throws -> T) async throws -> T {
        let item = try await get(timeout: timeout)
        defer { put(item) }
        return try await body(item)
    }

    /// Changes the most items the pool keeps; extra items are dropped as they come back.
    public func resize(maxSize newSize: Int) {
        precondition(newSize >= 0, "a pool's maxSize is 0 or more")
        maxSize = newSize
        while currentSize > maxSize, !idle.isEmpty {
            _ = idle.removeFirst()
            currentSize -= 1
        }
        wakeWaitersForCreation()
    }
}
