import DequeModule

/// A pool of reusable resources — connections, parsers, buffers — created on demand up to a
/// maximum (Eventlet's `pools.Pool`, the base of its database pool). A green thread takes an item,
/// uses it and gives it back; when all `maxSize` items are out, takers wait.
///
/// What Eventlet's `db_pool` adds on top, for connections: ``maxIdle`` (an item idle in the pool
/// longer than this is closed), ``maxAge`` (an item older than this is closed when it comes back,
/// or when it would be taken, instead of being used again), ``connectTimeout`` (a creation that
/// takes longer fails with `TimeoutError` and frees its place), and a `close` hook, called for
/// every item the pool lets go (expired, discarded, dropped by ``resize(maxSize:)``).
///
/// ```swift
/// let connections = try await ResourcePool(maxSize: 10, maxIdle: .seconds(60), maxAge: .seconds(3600),
///                                          close: { await $0.close() }) { try await Connection.open(host) }
/// let rows = try await connections.withItem { connection in try await connection.query(sql) }
/// ```
/// An item's age is known on its return when items are class instances (connections are); for
/// other items it is checked when they would be taken. Hub-confined.
public final class ResourcePool<Item: Sendable>: @unchecked Sendable {
    /// The most items the pool creates.
    public private(set) var maxSize: Int
    /// Whether the most recently returned item is handed out first (a stack) or the oldest (a queue).
    public let lastInFirstOut: Bool
    /// How long an item may sit idle in the pool before it is closed (nil: for ever).
    public let maxIdle: Duration?
    /// How old an item may get before it is closed instead of used again (nil: for ever).
    public let maxAge: Duration?
    /// How long a creation may take (nil: as long as it takes).
    public let connectTimeout: Duration?
    /// The name it shows under in the hub's ``Hub/poolSnapshots()``.
    public let name: String?
    private let create: @Sendable () async throws -> Item
    private let close: (@Sendable (Item) async -> Void)?
    /// Idle items with when they were made and when they came back.
    private var idle = Deque<(item: Item, created: ContinuousClock.Instant, since: ContinuousClock.Instant)>()
    /// When each taken item (a class instance) was made.
    private var lentCreated: [ObjectIdentifier: ContinuousClock.Instant] = [:]
    private var sweeper: GreenThread<Void>?
    private var waiters = WaiterQueue<Waiter<Item?>>()
    /// Items created and not discarded: idle plus taken (plus ones being created).
    public private(set) var currentSize = 0

    /// Creates a pool that makes items with `create` (each within `connectTimeout`), `minSize` of
    /// them right away, closes them with `close` when it lets them go, and lets them go once idle
    /// longer than `maxIdle` or older than `maxAge`.
    public init(
        minSize: Int = 0, maxSize: Int = 4, lastInFirstOut: Bool = false, maxIdle: Duration? = nil,
        maxAge: Duration? = nil, connectTimeout: Duration? = nil, name: String? = nil,
        close: (@Sendable (Item) async -> Void)? = nil, create: @escaping @Sendable () async throws -> Item
    ) async throws {
        precondition(minSize >= 0 && minSize <= maxSize, "a pool needs 0 <= minSize <= maxSize")
        precondition(maxIdle.map { $0 > .zero } ?? true, "maxIdle is more than zero")
        self.maxSize = maxSize
        self.lastInFirstOut = lastInFirstOut
        self.maxIdle = maxIdle
        self.maxAge = maxAge
        self.connectTimeout = connectTimeout
        self.name = name
        self.close = close
        self.create = create
        Hub.current.register(self) { [weak self] in
            self.map {
                PoolSnapshot(
                    kind: "ResourcePool", name: $0.name, size: $0.maxSize, inUse: $0.currentSize, free: $0.free,
                    waiting: $0.waiting)
            }
        }
        for _ in 0..<minSize {
            currentSize += 1
            let item = try await createReserved()
            let created = Self.identity(item).flatMap { lentCreated.removeValue(forKey: $0) } ?? .now
            idle.append((item, created, .now))
        }
        if let maxIdle {
            // Closes what sat idle too long, every half of maxIdle, while the pool exists.
            sweeper = spawn(name: "pool idle sweeper") { [weak self] in
                while (try? await sleep(for: maxIdle / 2)) != nil {
                    guard let self else { return }
                    self.closeExpiredIdle()
                }
            }
        }
    }

    deinit { sweeper?.cancel() }

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
            hub.nextWaitLabel.pointee = "resource pool item"
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
        while !idle.isEmpty {
            let entry = lastInFirstOut ? idle.removeLast() : idle.removeFirst()
            if isExpired(created: entry.created, since: entry.since) {
                letGo(entry.item)
                continue
            }
            lend(entry.item, created: entry.created)
            return entry.item
        }
        return nil
    }

    private func isExpired(created: ContinuousClock.Instant, since: ContinuousClock.Instant?) -> Bool {
        let now = ContinuousClock.now
        if let maxAge, now - created > maxAge { return true }
        if let maxIdle, let since, now - since > maxIdle { return true }
        return false
    }

    /// Closes idle items past ``maxIdle`` (the sweeper's round).
    private func closeExpiredIdle() {
        var kept = Deque<(item: Item, created: ContinuousClock.Instant, since: ContinuousClock.Instant)>()
        var expired: [Item] = []
        for entry in idle {  // one pass, so each item is either kept or let go
            if isExpired(created: entry.created, since: entry.since) { expired.append(entry.item) } else { kept.append(entry) }
        }
        guard !expired.isEmpty else { return }
        idle = kept
        for item in expired { letGo(item) }
    }

    /// Frees `item`'s place and closes it.
    private func letGo(_ item: Item) {
        currentSize -= 1
        if let close { spawnN { await close(item) } }
        wakeWaitersForCreation()
    }

    private static func identity(_ item: Item) -> ObjectIdentifier? {
        type(of: item as Any) is AnyClass ? ObjectIdentifier(item as AnyObject) : nil
    }

    private func lend(_ item: Item, created: ContinuousClock.Instant) {
        if let id = Self.identity(item) { lentCreated[id] = created }
    }

    /// Creates an item in a place already counted in `currentSize`, within ``connectTimeout``.
    private func createReserved() async throws -> Item {
        do {
            let item = try await withTimeout(connectTimeout, label: "creating a pooled item") { try await self.create() }
            lend(item, created: .now)
            return item
        } catch {
            currentSize -= 1
            wakeWaitersForCreation()
            throw error
        }
    }

    /// Gives `item` back: closed if it is older than ``maxAge``, else straight to the longest
    /// waiter, or into the idle set.
    public func put(_ item: Item) {
        let created = Self.identity(item).flatMap { lentCreated.removeValue(forKey: $0) } ?? .now
        if isExpired(created: created, since: nil) { return letGo(item) }
        while let waiter = waiters.popFirst() {
            if waiter.resume(returning: item) {
                lend(item, created: created)
                return
            }
        }
        if currentSize > maxSize { return letGo(item) }  // the pool shrank: let this one go
        idle.append((item, created, .now))
    }

    /// Drops a taken item that is broken instead of giving it back, freeing its place (and
    /// closing it with the `close` hook).
    public func discard(_ item: Item) {
        if let id = Self.identity(item) { lentCreated[id] = nil }
        letGo(item)
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
        while currentSize > maxSize, let entry = idle.popFirst() { letGo(entry.item) }
        wakeWaitersForCreation()
    }
}
