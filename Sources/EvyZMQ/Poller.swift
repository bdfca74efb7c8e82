import CZeroMQ
import Evy
import Glibc

/// What a ``ZMQPoller`` watches for.
public struct ZMQPollEvents: OptionSet, Sendable, Hashable {
    /// libzmq's bits (`ZMQ_POLLIN`, `ZMQ_POLLOUT`).
    public let rawValue: Int32
    /// Wraps libzmq's bits.
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// A message can be received, or the descriptor read.
    public static let readable = ZMQPollEvents(rawValue: Int32(ZMQ_POLLIN))
    /// A message can be sent, or the descriptor written.
    public static let writable = ZMQPollEvents(rawValue: Int32(ZMQ_POLLOUT))
}

/// A green poller over ZeroMQ sockets and plain file descriptors (`zmq.Poller`): ``poll(timeout:)``
/// suspends only the calling green thread until one of them is ready.
///
/// ```swift
/// let poller = ZMQPoller()
/// poller.register(tasks, for: .readable)
/// poller.register(control, for: .readable)
/// for (item, _) in try await poller.poll(timeout: .seconds(1)) { ... }
/// ```
/// Hub-confined.
public final class ZMQPoller: @unchecked Sendable {
    /// A registered socket or descriptor.
    public enum Item: Hashable, @unchecked Sendable {
        case socket(ZMQSocket)
        case descriptor(Int32)

        /// The same socket object, or the same descriptor number.
        public static func == (a: Item, b: Item) -> Bool {
            switch (a, b) {
            case (.socket(let x), .socket(let y)): x === y
            case (.descriptor(let x), .descriptor(let y)): x == y
            default: false
            }
        }

        /// Hashes the socket's identity or the descriptor number.
        public func hash(into hasher: inout Hasher) {
            switch self {
            case .socket(let socket): hasher.combine(ObjectIdentifier(socket))
            case .descriptor(let fd): hasher.combine(fd)
            }
        }
    }

    private var items: [(item: Item, events: ZMQPollEvents)] = []

    /// Creates an empty poller.
    public init() {}

    /// Watches `socket` for `events` (replacing an earlier registration of it).
    public func register(_ socket: ZMQSocket, for events: ZMQPollEvents = .readable) {
        unregister(.socket(socket))
        items.append((.socket(socket), events))
    }

    /// Watches a plain file descriptor for `events`.
    public func register(descriptor fd: Int32, for events: ZMQPollEvents = .readable) {
        unregister(.descriptor(fd))
        items.append((.descriptor(fd), events))
    }

    /// Stops watching `item`.
    public func unregister(_ item: Item) {
        items.removeAll { $0.item == item }
    }

    /// Waits until at least one registered item is ready, or `timeout` passes (nil: for ever), and
    /// returns the ready ones with their ready events (empty after a timeout).
    public func poll(timeout: Duration? = nil) async throws -> [(item: Item, events: ZMQPollEvents)] {
        let hub = Hub.current
        let deadline = timeout.map { hub.now.advanced(by: $0) }
        let changed = Flag()
        let id = ObjectIdentifier(changed)
        var registrations: [Handle] = []
        var observed: [ZMQSocket] = []
        var watching = false
        defer {
            for registration in registrations { registration.cancel() }
            for socket in observed { socket.removeObserver(id: id) }
        }
        while true {
            changed.clear()
            let ready = readyItems()
            if !ready.isEmpty { return ready }
            if !watching {
                watching = true
                for (item, events) in items {
                    switch item {
                    case .socket(let socket):
                        try socket.addObserver(changed, id: id)
                        observed.append(socket)
                    case .descriptor(let fd):
                        if events.contains(.readable) { registrations.append(try hub.addReader(fd) { changed.set() }) }
                        if events.contains(.writable) { registrations.append(try hub.addWriter(fd) { changed.set() }) }
                    }
                }
                continue  // look again now that everything is watched
            }
            let remaining = deadline.map { hub.now.duration(to: $0) }
            if let remaining, remaining <= .zero { return [] }
            guard try await changed.wait(timeout: remaining) else { return [] }
        }
    }

    private func readyItems() -> [(item: Item, events: ZMQPollEvents)] {
        var ready: [(item: Item, events: ZMQPollEvents)] = []
        var descriptors: [pollfd] = []
        for (item, events) in items {
            switch item {
            case .socket(let socket):
                let now = ZMQPollEvents(rawValue: socket.currentEvents).intersection(events)
                if !now.isEmpty { ready.append((item, now)) }
            case .descriptor(let fd):
                var wanted: Int16 = 0
                if events.contains(.readable) { wanted |= Int16(POLLIN) }
                if events.contains(.writable) { wanted |= Int16(POLLOUT) }
                descriptors.append(pollfd(fd: fd, events: wanted, revents: 0))
            }
        }
        if !descriptors.isEmpty, Glibc.poll(&descriptors, nfds_t(descriptors.count), 0) > 0 {
            for descriptor in descriptors where descriptor.revents != 0 {
                var events: ZMQPollEvents = []
                if descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 { events.insert(.readable) }
                if descriptor.revents & Int16(POLLOUT | POLLERR) != 0 { events.insert(.writable) }
                ready.append((.descriptor(descriptor.fd), events))
            }
        }
        return ready
    }
}
