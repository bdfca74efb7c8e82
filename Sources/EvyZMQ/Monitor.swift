import CZeroMQ
import Evy

/// Socket monitor events (`ZMQ_EVENT_*`): one event, or a set of them to watch or wait for.
public struct ZMQMonitorEvents: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// libzmq's bits (`ZMQ_EVENT_CONNECTED`...).
    public let rawValue: Int32
    /// Wraps libzmq's bits.
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// A connection to a peer was made.
    public static let connected = Self(rawValue: ZMQ_EVENT_CONNECTED)
    /// A connection could not be made at once; libzmq keeps trying.
    public static let connectDelayed = Self(rawValue: ZMQ_EVENT_CONNECT_DELAYED)
    /// libzmq tries to connect again (the value is the interval in milliseconds).
    public static let connectRetried = Self(rawValue: ZMQ_EVENT_CONNECT_RETRIED)
    /// The socket listens on a bound endpoint.
    public static let listening = Self(rawValue: ZMQ_EVENT_LISTENING)
    /// A bind failed.
    public static let bindFailed = Self(rawValue: ZMQ_EVENT_BIND_FAILED)
    /// A peer's connection was accepted.
    public static let accepted = Self(rawValue: ZMQ_EVENT_ACCEPTED)
    /// A peer's connection could not be accepted.
    public static let acceptFailed = Self(rawValue: ZMQ_EVENT_ACCEPT_FAILED)
    /// A connection's descriptor was closed.
    public static let closed = Self(rawValue: ZMQ_EVENT_CLOSED)
    /// A connection's descriptor could not be closed.
    public static let closeFailed = Self(rawValue: ZMQ_EVENT_CLOSE_FAILED)
    /// A peer disconnected or its connection broke.
    public static let disconnected = Self(rawValue: ZMQ_EVENT_DISCONNECTED)
    /// Monitoring stopped.
    public static let monitorStopped = Self(rawValue: ZMQ_EVENT_MONITOR_STOPPED)
    /// A ZMTP handshake failed, for no more precise reason.
    public static let handshakeFailed = Self(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    /// A ZMTP handshake (and its security mechanism's) succeeded.
    public static let handshakeSucceeded = Self(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
    /// A ZMTP handshake failed: the peer broke the protocol.
    public static let handshakeFailedProtocol = Self(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    /// A ZMTP handshake failed: authentication refused the peer (a ZAP handler said no).
    public static let handshakeFailedAuth = Self(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    /// Every event.
    public static let all = Self(rawValue: ZMQ_EVENT_ALL)

    /// A readable name for one event.
    public var description: String {
        switch self {
        case .connected: "connected"
        case .connectDelayed: "connect delayed"
        case .connectRetried: "connect retried"
        case .listening: "listening"
        case .bindFailed: "bind failed"
        case .accepted: "accepted"
        case .acceptFailed: "accept failed"
        case .closed: "closed"
        case .closeFailed: "close failed"
        case .disconnected: "disconnected"
        case .monitorStopped: "monitor stopped"
        case .handshakeFailed: "handshake failed"
        case .handshakeSucceeded: "handshake succeeded"
        case .handshakeFailedProtocol: "handshake failed (protocol)"
        case .handshakeFailedAuth: "handshake failed (authentication)"
        default: "event \(rawValue)"
        }
    }
}

/// One socket monitor event (`zmq_socket_monitor`).
public struct ZMQMonitorEvent: Sendable, Equatable, CustomStringConvertible {
    /// The event (``ZMQMonitorEvents/connected``, ``ZMQMonitorEvents/accepted``...).
    public let event: ZMQMonitorEvents
    /// The event's value: a descriptor, an error number or a retry interval, depending on the event.
    public let value: UInt32
    /// The endpoint concerned.
    public let endpoint: String

    /// The event's name, endpoint and value.
    public var description: String { "\(event) \(endpoint) (\(value))" }
}

/// The events of a monitored socket, received by green threads.
///
/// ```swift
/// let monitor = try socket.monitor()
/// for try await event in monitor { print(event) }
/// ```
public final class ZMQMonitor: AsyncSequence, @unchecked Sendable {
    /// A sequence of monitor events.
    public typealias Element = ZMQMonitorEvent
    private let pair: ZMQSocket
    private weak var monitored: ZMQSocket?

    init(socket: ZMQSocket, events: ZMQMonitorEvents) throws {
        let endpoint = "inproc://evy-monitor-\(UInt64.random(in: 0...UInt64.max))"
        try socket.startMonitor(endpoint, events: events)
        do {
            let pair = try ZMQSocket(.pair, context: socket.context)
            do {
                try pair.connect(endpoint)
            } catch {
                pair.close(linger: .zero)
                throw error
            }
            self.pair = pair
        } catch {
            socket.stopMonitor()  // else libzmq's monitor socket lives as long as `socket`
            throw error
        }
        monitored = socket
    }

    /// Waits for the next event. Throws ``TimeoutError`` after `timeout`.
    public func next(timeout: Duration? = nil) async throws -> ZMQMonitorEvent {
        let frames = try await pair.receiveMultipart(timeout: timeout)
        guard frames.count >= 2, frames[0].count >= 6 else { throw ZMQError("monitor", EPROTO) }
        let event = Int32(UInt16(frames[0][0]) | UInt16(frames[0][1]) << 8)
        let value = (0..<4).reduce(UInt32(0)) { $0 | UInt32(frames[0][2 + $1]) << (8 * UInt32($1)) }
        return ZMQMonitorEvent(
            event: ZMQMonitorEvents(rawValue: event), value: value, endpoint: String(decoding: frames[1], as: UTF8.self)
        )
    }

    /// Waits for the next event that is one of `events`, skipping others. Throws ``TimeoutError``
    /// after `timeout`.
    public func next(oneOf events: ZMQMonitorEvents, timeout: Duration? = nil) async throws -> ZMQMonitorEvent {
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
            do { return try await monitor.next() } catch let error as ZMQError where error.code == ENOTSOCK {
                return nil
            }
        }
    }

    /// Iterates the events (one iterator at a time: they share the monitor).
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(monitor: self) }
}

extension ZMQSocket {
    /// Starts delivering this socket's `events` (all by default) to a ``ZMQMonitor``.
    public func monitor(events: ZMQMonitorEvents = .all) throws -> ZMQMonitor {
        try ZMQMonitor(socket: self, events: events)
    }

    func startMonitor(_ endpoint: String, events: ZMQMonitorEvents) throws {
        guard zmq_socket_monitor(try live("monitor"), endpoint, events.rawValue) == 0 else { throw ZMQError("monitor") }
    }

    func stopMonitor() {
        if let handle { zmq_socket_monitor(handle, nil, 0) }
    }
}
