import DequeModule

/// Something a ``WaiterQueue`` holds: a waiter, or a waiter with what it brings.
@usableFromInline
protocol WaiterEntry {
    var waiterBase: WaiterBase { get }
}

extension Waiter: WaiterEntry {
    @inlinable var waiterBase: WaiterBase { self }
}

/// A waiter that brings an item (a putter, a sender).
@usableFromInline
struct PendingItem<Item>: WaiterEntry {
    @usableFromInline let waiter: Waiter<Void>
    @usableFromInline let item: Item

    @inlinable init(_ waiter: Waiter<Void>, _ item: Item) {
        self.waiter = waiter
        self.item = item
    }

    @inlinable var waiterBase: WaiterBase { waiter }
}

/// The FIFO of green threads parked on one primitive. Waiters that timed out or were cancelled
/// stay in it until found (lazy removal) — or until they make up most of it: a consumer polling an
/// idle queue with a short timeout must not grow it forever. Purging when the queue doubles past
/// what survived the last purge keeps appends amortised O(1).
@usableFromInline
struct WaiterQueue<Entry: WaiterEntry> {
    @usableFromInline var entries = Deque<Entry>()
    @usableFromInline var purgeAt = 64

    @inlinable init() {}

    @inlinable mutating func append(_ entry: Entry) {
        entries.append(entry)
        if entries.count >= purgeAt {
            entries.removeAll { $0.waiterBase.isFinished }
            purgeAt = Swift.max(64, entries.count * 2)
        }
    }

    /// The oldest entry, live or not.
    @inlinable mutating func popFirst() -> Entry? { entries.popFirst() }

    /// Every entry, emptying the queue (to wake them all).
    @inlinable mutating func takeAll() -> Deque<Entry> {
        let all = entries
        entries = Deque()
        purgeAt = 64
        return all
    }

    /// Entries still waiting.
    @inlinable var liveCount: Int { entries.count { !$0.waiterBase.isFinished } }
}
