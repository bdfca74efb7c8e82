/// What a hub can tell about itself while it runs, for an operator's console (`evy inspect`) and
/// for tests: its counters, its live green threads with what each waits on, and its pools.
///
/// Every reading is hub-confined: take it on the hub's thread (from a green thread of the hub).
/// Readings are cheap to keep up — a counter per ready batch, a label per wait — and are only
/// assembled when asked for.
public struct HubStatistics: Sendable, Equatable {
    /// Units of work run from the ready queue (green-thread steps and scheduled callbacks) since
    /// the hub was made; timer and I/O callbacks that libuv runs directly are not counted.
    public var jobsRun: UInt64
    /// Batches of ready work run between two polls of I/O and timers.
    public var turns: UInt64
    /// The longest such batch since the hub was made, read with the coarse monotonic clock (a few
    /// milliseconds' resolution: short turns read 0): how long green threads held the hub at
    /// most between two polls. A long one points at a blocking call (see the blocking detector).
    public var longestTurn: Duration
    /// Stalls the blocking detector reported (0 while it is off).
    public var blockingReports: Int
    /// Whether the blocking detector is on, and its threshold.
    public var blockingThreshold: Duration?
    /// Green threads alive now.
    public var greenThreads: Int
    /// Timers armed now.
    public var timers: Int
    /// File descriptors watched now.
    public var watchedDescriptors: Int
}

/// One live green thread: its name, what it is parked on, and until when.
public struct GreenThreadSnapshot: Sendable, Equatable {
    /// The name given at spawn, if any.
    public var name: String?
    /// What it waits for (`sleep`, `queue get`, `readable fd`…), or nil when it is not parked in
    /// one of Evy's waits (ready to run, or awaiting a plain Swift task of its own).
    public var waitingOn: String?
    /// How long until its wait times out, if the wait has a deadline.
    public var timesOutIn: Duration?
    /// How long it has been alive.
    public var age: Duration
    /// The name of the pool that started it, if one did and the pool has a name.
    public var pool: String?
}

/// One pool of the hub: a ``GreenPool`` (slots for green threads) or a ``ResourcePool`` (items).
public struct PoolSnapshot: Sendable, Equatable {
    /// `GreenPool` or `ResourcePool`.
    public var kind: String
    /// The name given at creation, if any.
    public var name: String?
    /// Its size (a green pool's slots; a resource pool's most items).
    public var size: Int
    /// In use now (running green threads; items created, idle or taken).
    public var inUse: Int
    /// Free now (slots; idle items plus items it may still create).
    public var free: Int
    /// Green threads waiting for a slot or an item.
    public var waiting: Int
}

/// A pool as the hub's registry keeps it: weakly, with the closure that reads it.
final class InspectablePool {
    weak var pool: AnyObject?
    let read: () -> PoolSnapshot?

    init(_ pool: AnyObject, read: @escaping () -> PoolSnapshot?) {
        self.pool = pool
        self.read = read
    }
}

extension Hub {
    /// The hub's counters now. Hub-confined.
    public func statistics() -> HubStatistics {
        assertOnHubThread("Hub.statistics()")
        return HubStatistics(
            jobsRun: jobsRun, turns: turns, longestTurn: .nanoseconds(longestTurnNanoseconds),
            blockingReports: blockingDetector?.reports ?? 0, blockingThreshold: blockingDetector?.threshold,
            greenThreads: Set(greenTasks.values.map { ObjectIdentifier($0.context) }).count, timers: liveTimers,
            watchedDescriptors: watchers.count)
    }

    /// The green threads alive now, the longest-lived first. A green thread running a
    /// ``withTimeout(_:label:_:)`` body is one entry (its body runs as a task of its own, with the
    /// same context): what the body waits on, the age of the outer task. Hub-confined.
    public func greenThreadSnapshots() -> [GreenThreadSnapshot] {
        assertOnHubThread("Hub.greenThreadSnapshots()")
        let now = ContinuousClock.now
        let coarseNow = Self.coarseNanoseconds()
        let poolNames = Dictionary(
            pools.compactMap { entry in entry.pool.map { (ObjectIdentifier($0), entry.read()?.name) } },
            uniquingKeysWith: { first, _ in first })
        let byThread = Dictionary(grouping: greenTasks.values) { ObjectIdentifier($0.context) }
        return byThread.values.map { states in
            let oldest = states.min { $0.started < $1.started }!
            // The one parked, if any; among several (nested timeouts) the innermost, the newest.
            let parked = states.filter { $0.currentWait != nil }.max { $0.started < $1.started }
            return GreenThreadSnapshot(
                name: oldest.context.name,
                waitingOn: parked.map { $0.wait.pointee.label.description },
                timesOutIn: parked?.wait.pointee.deadline.map { max($0 - now, .zero) },
                age: .nanoseconds(max(0, coarseNow - oldest.started)),
                pool: oldest.context.pool.flatMap { poolNames[$0] ?? nil })
        }.sorted { $0.age > $1.age }
    }

    /// The pools made on this hub that are still alive. Hub-confined.
    public func poolSnapshots() -> [PoolSnapshot] {
        assertOnHubThread("Hub.poolSnapshots()")
        pools.removeAll { $0.pool == nil }
        return pools.compactMap { $0.read() }
    }

    /// Adds `pool` to the hub's registry (weakly); `read` reads it on the hub when asked. Entries
    /// of pools gone are dropped when the registry has doubled since the last sweep, so that code
    /// making a pool per request pays O(1) per pool.
    func register(_ pool: AnyObject, read: @escaping () -> PoolSnapshot?) {
        if pools.count >= poolsSweepAt {
            pools.removeAll { $0.pool == nil }
            poolsSweepAt = max(64, pools.count * 2)
        }
        pools.append(InspectablePool(pool, read: read))
    }
}
