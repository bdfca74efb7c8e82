import CZeroMQ
import Evy

/// One socket monitor event (`zmq_socket_monitor`).
public struct ZMQMonitorEvent: Sendable, Equatable, CustomStringConvertible {
    /// The event (`ZMQ_EVENT_CONNECTED`, `ZMQ_EVENT_ACCEPTED`, `ZMQ_EVENT_DISCONNECTED`,
    /// `ZMQ_EVENT_HANDSHAKE_SUCCEEDED`, `ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`...).
    public let event: Int32
    /// The event's value: a descriptor, an error number or a retry interval, depending on the event.
    public let value: UInt32
    /// The endpoint concerned.
    public let endpoint: String

    public var description: String { "\(ZMQMonitorEvent.name(event)) \(endpoint) (\(value))" }

    /// A readable name for an event number.
    public static func name(_ event: Int32) -> String {
        switch event {
        case ZMQ_EVENT_CONNECTED: "connected"
        case ZMQ_EVENT_CONNECT_DELAYED: "connect delayed"
        case ZMQ_EVENT_CONNECT_RETRIED: "connect retried"
        case ZMQ_EVENT_LISTENING: "listening"
        case ZMQ_EVENT_BIND_FAILED: "bind failed"
        case ZMQ_EVENT_ACCEPTED: "accepted"
        case ZMQ_EVENT_ACCEPT_FAILED: "accept failed"
        case ZMQ_EVENT_CLOSED: "closed"
        case ZMQ_EVENT_CLOSE_FAILED: "close failed"
        case ZMQ_EVENT_DISCONNECTED: "disconnected"
        case ZMQ_EVENT_MONITOR_STOPPED: "monitor stopped"
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: "handshake failed"
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: "handshake succeeded"
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake failed (protocol)"
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: "handshake failed (authentication)"
        default: "event \(event)"
        }
    }
}

/// The events of a monitored socket, received by green threads.
///
/// ```swift
/// let monitor = try socket.monitor()
/// for try await event in monitor { print(event) }
/// ```
public final class ZMQMonitor: AsyncSequence, @unchecked Sendable {
    public typealias Element = ZMQMonitorEvent
    private let pair: ZMQSocket
    private weak var monitored: ZMQSocket?

    init(socket: ZMQSocket, events: Int32) throws {
        let endpoint = "inproc://evy-monitor-\(UInt64.random(in: 0...UInt64.max))"
        try socket.startMonitor(endpoint, events: events)
        pair = try ZMQSocket(.pair, context: socket.context)
        try pair.connect(endpoint)
        monitored = socket
    }

    /// Waits for the next event. Throws ``TimeoutError`` after `timeout`.
    public func next(timeout: Duration? = nil) async throws -> ZMQMonitorEvent {
        let frames = try await pair.receiveMultipart(timeout: timeout)
        guard frames.count >= 2, frames[0].count >= 6 else { throw ZMQError("monitor", EPROTO) }
        let event = Int32(UInt16(frames[0][0]) | UInt16(frames[0][1]) << 8)
        let value = (0..<4).reduce(UInt32(0)) { $0 | UInt32(frames[0][2 + $1]) << (8 * UInt32($1)) }
        return ZMQMonitorEvent(event: event, value: value, endpoint: String(decoding: frames[1], as: UTF8.self))
    }

    /// Waits for the next event whose number is one of `events`, skipping others.
    public func next(oneOf events: Set<Int32>, timeout: Duration? = nil) async throws -> ZMQMonitorEvent {
        let hub = Hub.current
        let deadline = timeout.map { hub.now.advanced(by: $0) }
        while true {
            let event = try await next(timeout: deadline.map { hub.now.duration(to: $0) })
            if events.contains(event.event) { return event }
        }
    }

    /// Stops monitoring.
    public func close() {
        monitored?.stopMonitor()
        pair.close(linger: .zero)
    }

    /// Iterates the events until the monitor is closed.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let monitor: ZMQMonitor
        /// The next event, or nil once the monitor is closed.
        public mutating func next() async throws -> ZMQMonitorEvent? {
            do { return try await monitor.next() } catch let error as ZMQError where error.code == ENOTSOCK { return nil }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(monitor: self) }
}

extension ZMQSocket {
    /// Starts delivering this socket's `events` (all by default) to a ``ZMQMonitor``.
    public func monitor(events: Int32 = ZMQ_EVENT_ALL) throws -> ZMQMonitor {
        try ZMQMonitor(socket: self, events: events)
    }

    func startMonitor(_ endpoint: String, events: Int32) throws {
        guard zmq_socket_monitor(try live("monitor"), endpoint, events) == 0 else { throw ZMQError("monitor") }
    }

    func stopMonitor() {
        if let handle { zmq_socket_monitor(handle, nil, 0) }
    }
}
