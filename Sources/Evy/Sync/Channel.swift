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
    @usableFromInline var receivers = WaiterQueue<Waiter<Element>>()
    @usableFromInline var senders = WaiterQueue<PendingItem<Result<Element, any Error>>>()

    /// Creates a channel.
    @inlinable public init() {}

    /// Hands `value` to a receiver, waiting for one if none waits. Throws ``TimeoutError`` if
    /// `timeout` passes first (the value is then not delivered).
    @inlinable
    public func send(_ value: Element, timeout: Duration? = nil) async throws {
        try await deliver(.success(value), timeout: timeout)
    }

    /// Hands `error` to a receiver, whose ``receive(timeout:)`` throws it.
    @inlinable
    public func send(error: any Error, timeout: Duration? = nil) async throws {
        try await deliver(.failure(error), timeout: timeout)
    }

    @inlinable
    func deliver(_ item: Result<Element, any Error>, timeout: Duration?) async throws {
        if handToReceiver(item) { return }
        let hub = Hub.current
        do {
            hub.nextWaitLabel.pointee = "channel send"
            try await hub.park(deadline: hub.deadline(after: timeout)) { sender in
                if handToReceiver(item) {
                    sender.resume(returning: ())
                } else {
                    senders.append(PendingItem(sender, item))
                }
            }
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }

    @inlinable
    func handToReceiver(_ item: Result<Element, any Error>) -> Bool {
        while let receiver = receivers.popFirst() {
            switch item {
            case .success(let value): if receiver.resume(returning: value) { return true }
            case .failure(let error): if receiver.resume(throwing: error) { return true }
            }
        }
        return false
    }

    @inlinable
    func takeFromSender() -> Result<Element, any Error>? {
        while let sender = senders.popFirst() {
            if sender.waiter.resume(returning: ()) { return sender.item }
        }
        return nil
    }

    /// Takes the next value from a sender, waiting for one if none waits. Throws what a sender sent
    /// with ``send(error:timeout:)``, or ``TimeoutError`` if `timeout` passes first.
    @inlinable
    public func receive(timeout: Duration? = nil) async throws -> Element {
        if let item = takeFromSender() { return try item.get() }
        let hub = Hub.current
        do {
            hub.nextWaitLabel.pointee = "channel receive"
            return try await hub.park(deadline: hub.deadline(after: timeout)) { receiver in
                switch takeFromSender() {
                case .success(let value): receiver.resume(returning: value)
                case .failure(let error): receiver.resume(throwing: error)
                case nil: receivers.append(receiver)
                }
            }
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }

    /// Waiting senders minus waiting receivers (Eventlet's `balance`).
    public var balance: Int {
        senders.liveCount - receivers.liveCount
    }
}
