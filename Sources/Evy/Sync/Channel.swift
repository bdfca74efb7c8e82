import DequeModule

/// A synchronous hand-off between green threads (Evergreen's `Channel`, Eventlet's `Queue(0)`):
/// ``send(_:timeout:)`` waits until a receiver takes the value; ``receive(timeout:)`` waits until a
/// sender brings one. Nothing is buffered.
///
/// ```swift
/// let channel = Channel<Int>()
/// spawn { for i in 1...3 { try await channel.send(i) } }
/// for _ in 1...3 { print(try await channel.receive()) }
/// ```
/// Hub-confined.
public final class Channel<Element: Sendable>: @unchecked Sendable {
    private var receivers = Deque<Waiter<Element>>()
    private var senders = Deque<(waiter: Waiter<Void>, item: Result<Element, any Error>)>()

    /// Creates a channel.
    public init() {}

    /// Hands `value` to a receiver, waiting for one if none waits. Throws ``TimeoutError`` if
    /// `timeout` passes first (the value is then not delivered).
    public func send(_ value: Element, timeout: Duration? = nil) async throws {
        try await deliver(.success(value), timeout: timeout)
    }

    /// Hands `error` to a receiver, whose ``receive(timeout:)`` throws it.
    public func send(error: any Error, timeout: Duration? = nil) async throws {
        try await deliver(.failure(error), timeout: timeout)
    }

    private func deliver(_ item: Result<Element, any Error>, timeout: Duration?) async throws {
        while let receiver = receivers.popFirst() {
            let delivered: Bool
            switch item {
            case .success(let value): delivered = receiver.resume(returning: value)
            case .failure(let error): delivered = receiver.resume(throwing: error)
            }
            if delivered { return }
        }
        let hub = Hub.current
        do {
            try await hub.park(deadline: hub.deadline(after: timeout)) { senders.append(($0, item)) }
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }

    /// Takes the next value from a sender, waiting for one if none waits. Throws what a sender sent
    /// with ``send(error:timeout:)``, or ``TimeoutError`` if `timeout` passes first.
    public func receive(timeout: Duration? = nil) async throws -> Element {
        while let sender = senders.popFirst() {
            if sender.waiter.resume(returning: ()) { return try sender.item.get() }
        }
        let hub = Hub.current
        do {
            return try await hub.park(deadline: hub.deadline(after: timeout)) { receivers.append($0) }
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }

    /// Waiting senders minus waiting receivers (Eventlet's `balance`).
    public var balance: Int {
        senders.count { $0.waiter.isWaiting } - receivers.count { $0.isWaiting }
    }
}
