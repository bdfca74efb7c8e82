import DequeModule
import HeapModule

/// How a ``GreenQueue`` orders its items.
public protocol QueueStorage {
    /// What the queue holds.
    associatedtype Element
    /// An empty store.
    init()
    /// How many items are stored.
    var count: Int { get }
    /// Stores an item.
    mutating func push(_ item: Element)
    /// Removes the next item in this store's order; only called when `count > 0`.
    mutating func pop() -> Element
}

/// First in, first out: ``Queue``.
public struct FIFOStorage<Element>: QueueStorage {
    @usableFromInline var items = Deque<Element>()
    @inlinable public init() {}
    @inlinable public var count: Int { items.count }
    @inlinable public mutating func push(_ item: Element) { items.append(item) }
    @inlinable public mutating func pop() -> Element { items.removeFirst() }
}

/// Last in, first out: ``LifoQueue``.
public struct LIFOStorage<Element>: QueueStorage {
    @usableFromInline var items: [Element] = []
    @inlinable public init() {}
    @inlinable public var count: Int { items.count }
    @inlinable public mutating func push(_ item: Element) { items.append(item) }
    @inlinable public mutating func pop() -> Element { items.removeLast() }
}

/// Smallest first; equal items in insertion order: ``PriorityQueue``.
public struct PriorityStorage<Element: Comparable>: QueueStorage {
    private struct Entry: Comparable {
        let item: Element
        let sequence: UInt64
        static func < (a: Entry, b: Entry) -> Bool {
            a.item < b.item || (!(b.item < a.item) && a.sequence < b.sequence)
        }
        static func == (a: Entry, b: Entry) -> Bool { a.sequence == b.sequence }
    }
    private var heap = Heap<Entry>()
    private var sequence: UInt64 = 0
    public init() {}
    public var count: Int { heap.count }
    public mutating func push(_ item: Element) {
        sequence &+= 1
        heap.insert(Entry(item: item, sequence: sequence))
    }
    public mutating func pop() -> Element { heap.removeMin().item }
}

/// A FIFO queue between green threads (Eventlet's `Queue`).
public typealias Queue<Element: Sendable> = GreenQueue<FIFOStorage<Element>>
/// A LIFO queue between green threads (Eventlet's `LifoQueue`).
public typealias LifoQueue<Element: Sendable> = GreenQueue<LIFOStorage<Element>>
/// A queue that hands out its smallest item first (Eventlet's `PriorityQueue`).
public typealias PriorityQueue<Element: Sendable & Comparable> = GreenQueue<PriorityStorage<Element>>

/// Thrown by a `get` that finds the queue empty: without waiting, or once its timeout passes.
public struct QueueEmpty: Error, CustomStringConvertible, Equatable {
    public init() {}
    public var description: String { "the queue is empty" }
}

/// Thrown by a `put` that finds the queue full: without waiting, or once its timeout passes.
public struct QueueFull: Error, CustomStringConvertible, Equatable {
    public init() {}
    public var description: String { "the queue is full" }
}

/// Misuse of a queue.
public enum QueueError: Error, CustomStringConvertible, Equatable {
    /// ``GreenQueue/taskDone()`` was called more often than items were put.
    case taskDoneTooOften

    public var description: String { "task_done() called more times than there were items" }
}

/// A queue between green threads, with an optional size limit, in the order its `Storage` gives:
/// ``Queue`` (FIFO), ``LifoQueue`` and ``PriorityQueue``.
///
/// `put` waits while the queue is full, `get` while it is empty; both take a timeout and have
/// non-waiting forms. ``taskDone()`` and ``join(timeout:)`` track the items consumers have
/// finished. A queue is also an `AsyncSequence` that never ends by itself:
/// ```swift
/// let jobs = Queue<URL>(maxSize: 100)
/// spawn { for try await url in jobs { try await crawl(url); try jobs.taskDone() } }
/// try await jobs.put(start)
/// try await jobs.join()
/// ```
/// A `maxSize` of 0 makes every `put` wait for a `get` (a channel). Hub-confined.
public final class GreenQueue<Storage: QueueStorage>: @unchecked Sendable where Storage.Element: Sendable {
    /// The element type.
    public typealias Element = Storage.Element

    @usableFromInline var items = Storage()
    @usableFromInline var getters = WaiterQueue<Waiter<Element>>()
    @usableFromInline var putters = WaiterQueue<PendingItem<Element>>()
    @usableFromInline var joiners = WaiterQueue<Waiter<Void>>()
    @usableFromInline var unfinished = 0

    /// The most items the queue holds, or nil for no limit.
    public internal(set) var maxSize: Int?

    /// Creates a queue holding at most `maxSize` items (nil: no limit; 0: every put waits for a
    /// get).
    public init(maxSize: Int? = nil) {
        precondition((maxSize ?? 0) >= 0, "a queue's maxSize is 0 or more, not \(maxSize!)")
        self.maxSize = maxSize
    }

    @inlinable var hasRoom: Bool { maxSize.map { items.count < $0 } ?? true }

    // MARK: Put

    /// Adds `item`, waiting while the queue is full. Throws ``QueueFull`` if `timeout` passes
    /// first, `CancellationError` if the green thread is killed meanwhile.
    @inlinable
    public func put(_ item: Element, timeout: Duration? = nil) async throws {
        if tryPut(item) { return }
        let hub = Hub.current
        do {
            hub.nextWaitLabel.pointee = "queue put"
            try await hub.park(deadline: hub.deadline(after: timeout)) { putter in
                if tryPut(item) { putter.resume(returning: ()) } else { putters.append(PendingItem(putter, item)) }
            }
        } catch is ParkTimedOut {
            throw QueueFull()
        }
    }

    /// Adds `item` if that needs no waiting; throws ``QueueFull`` otherwise.
    @inlinable
    public func putNowait(_ item: Element) throws {
        guard tryPut(item) else { throw QueueFull() }
    }

    @inlinable
    func tryPut(_ item: Element) -> Bool {
        while let getter = getters.popFirst() {
            if getter.isWaiting {
                unfinished += 1
                getter.resume(returning: item)
                return true
            }
        }
        guard hasRoom else { return false }
        items.push(item)
        unfinished += 1
        return true
    }

    // MARK: Get

    /// Removes and returns the next item, waiting while the queue is empty. Throws ``QueueEmpty``
    /// if `timeout` passes first, `CancellationError` if the green thread is killed meanwhile.
    @inlinable
    public func get(timeout: Duration? = nil) async throws -> Element {
        if let item = tryGet() { return item }
        let hub = Hub.current
        do {
            hub.nextWaitLabel.pointee = "queue get"
            return try await hub.park(deadline: hub.deadline(after: timeout)) { getter in
                if let item = tryGet() { getter.resume(returning: item) } else { getters.append(getter) }
            }
        } catch is ParkTimedOut {
            throw QueueEmpty()
        }
    }

    /// Removes and returns the next item if there is one now; throws ``QueueEmpty`` otherwise.
    @inlinable
    public func getNowait() throws -> Element {
        guard let item = tryGet() else { throw QueueEmpty() }
        return item
    }

    @inlinable
    func tryGet() -> Element? {
        if items.count > 0 {
            let item = items.pop()
            admitPutters()
            return item
        }
        // An unbuffered queue (maxSize 0): take straight from a waiting putter.
        while let putter = putters.popFirst() {
            if putter.waiter.resume(returning: ()) {
                unfinished += 1
                return putter.item
            }
        }
        return nil
    }

    /// Moves waiting putters' items in while there is room.
    @inlinable
    func admitPutters() {
        while hasRoom, let putter = putters.popFirst() {
            if putter.waiter.resume(returning: ()) {
                items.push(putter.item)
                unfinished += 1
            }
        }
    }

    // MARK: Size

    /// How many items are queued now.
    public var count: Int { items.count }

    /// Whether no item is queued.
    public var isEmpty: Bool { items.count == 0 }

    /// Whether a `put` would wait now.
    public var isFull: Bool { !hasRoom }

    /// Green threads waiting in `get`.
    public var waitingGetters: Int { getters.liveCount }

    /// Green threads waiting in `put`.
    public var waitingPutters: Int { putters.liveCount }

    /// Changes the size limit; if it grew, waiting putters move in at once.
    public func resize(maxSize newSize: Int?) {
        precondition((newSize ?? 0) >= 0, "a queue's maxSize is 0 or more")
        maxSize = newSize
        admitPutters()
    }

    // MARK: Task tracking

    /// Marks one item taken from the queue as fully processed. Throws
    /// ``QueueError/taskDoneTooOften`` if called more often than items were put.
    public func taskDone() throws {
        guard unfinished > 0 else { throw QueueError.taskDoneTooOften }
        unfinished -= 1
        if unfinished == 0 {
            for joiner in joiners.takeAll() { joiner.resume(returning: ()) }
        }
    }

    /// Items put and not yet marked done with ``taskDone()``.
    public var unfinishedTasks: Int { unfinished }

    /// Waits until every item put has been marked done. Returns false if `timeout` passed first.
    @discardableResult
    public func join(timeout: Duration? = nil) async throws -> Bool {
        guard unfinished > 0 else { return true }
        let hub = Hub.current
        do {
            hub.nextWaitLabel.pointee = "queue join"
            try await hub.park(deadline: hub.deadline(after: timeout)) { joiner in
                if unfinished == 0 { joiner.resume(returning: ()) } else { joiners.append(joiner) }
            }
            return true
        } catch is ParkTimedOut {
            return false
        }
    }
}

extension GreenQueue: AsyncSequence {
    /// Iterates by calling ``get(timeout:)`` forever; ends only by throwing (cancellation).
    public struct AsyncIterator: AsyncIteratorProtocol {
        @usableFromInline let queue: GreenQueue
        @inlinable init(queue: GreenQueue) { self.queue = queue }

        /// Waits for and returns the next item.
        @inlinable public mutating func next() async throws -> Element? {
            try await queue.get()
        }
    }

    /// An iterator that consumes the queue.
    @inlinable public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(queue: self) }
}
