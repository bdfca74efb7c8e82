import Synchronization

/// Collects values appended from any thread (a mutex inside), in the order they arrive.
public final class Collector<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])

    /// An empty collector.
    public init() {}

    /// Adds `item` at the end.
    public func append(_ item: T) { items.withLock { $0.append(item) } }

    /// Everything appended so far, in order.
    public var all: [T] { items.withLock { $0 } }
}
