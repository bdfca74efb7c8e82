import CZeroMQ
import Evy
import Glibc

/// The ZeroMQ socket types.
public enum ZMQSocketType: Sendable, CaseIterable {
    case pair, pub, sub, xpub, xsub, req, rep, dealer, router, push, pull, stream

    var raw: Int32 {
        switch self {
        case .pair: ZMQ_PAIR
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .xpub: ZMQ_XPUB
        case .xsub: ZMQ_XSUB
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        case .dealer: ZMQ_DEALER
        case .router: ZMQ_ROUTER
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .stream: ZMQ_STREAM
        }
    }
}

/// A green ZeroMQ socket (pyzmq's `Socket` made cooperative, Evy's `evy.patched.zmq`): a send or
/// receive that would block suspends only the calling green thread. Every socket type, single and
/// multipart messages, the non-blocking forms, options.
///
/// ```swift
/// let pull = try ZMQSocket(.pull)
/// try pull.bind("tcp://127.0.0.1:5557")
/// let push = try ZMQSocket(.push)
/// try push.connect("tcp://127.0.0.1:5557")
/// try await push.send("work")
/// let work = try await pull.receive()
/// ```
/// How it stays correct: libzmq's `ZMQ_FD` is edge-triggered and only says "something changed",
/// and every send, receive and read of `ZMQ_EVENTS` may consume that edge; so each of them passes
/// the news on to the green threads waiting for the other direction (see `ZMQSocket+Edge.swift`,
/// the only place that touches libzmq's queues or reads `ZMQ_EVENTS`), every wait looks once more
/// before it parks, and the descriptor is watched only while green threads wait (an idle socket
/// costs no CPU). A multipart send holds the socket's send lock and a multipart receive never
/// yields between parts, so messages of several green threads never interleave. Hub-confined.
public final class ZMQSocket: @unchecked Sendable {
    /// The socket's type.
    public let type: ZMQSocketType
    /// The context it belongs to.
    public let context: ZMQContext
    /// libzmq's socket; nil once closed.
    var handle: UnsafeMutableRawPointer?
    /// `ZMQ_FD`: the edge-triggered descriptor libzmq signals on when the socket's events change.
    let fd: Int32
    let hub: Hub
    /// Set when a receive (`readable`) or a send (`writable`) may now go through.
    let readable = Flag(), writable = Flag()
    /// Green threads parked on the socket.
    var waiters = 0
    /// The descriptor's watch, while green threads wait or pollers observe.
    var watch: Handle?
    /// Pollers watching this socket: told of every change of its events.
    var observers: [ObjectIdentifier: Flag] = [:]
    /// Whether a read of `ZMQ_EVENTS` is queued on the hub to pass on an edge a call may have consumed.
    var edgeCheckQueued = false
    /// Held by a multipart send, so that no other green thread's frame goes between its parts.
    @usableFromInline let sendLock = Lock()

    /// How long a receive waits by default (nil: for ever): a green timeout, throwing
    /// ``TimeoutError`` (what `ZMQ_RCVTIMEO` does for a blocking socket).
    public var receiveTimeout: Duration?
    /// How long a send waits by default (nil: for ever), throwing ``TimeoutError``.
    public var sendTimeout: Duration?

    /// Creates a socket of `type` in `context`.
    public init(_ type: ZMQSocketType, context: ZMQContext = .shared) throws {
        guard let handle = zmq_socket(context.handle, type.raw) else { throw ZMQError("zmq_socket") }
        var fd: Int32 = 0
        var length = MemoryLayout<Int32>.size
        guard zmq_getsockopt(handle, ZMQ_FD, &fd, &length) == 0 else {
            zmq_close(handle)
            throw ZMQError("getsockopt(ZMQ_FD)")
        }
        self.type = type
        self.context = context
        self.handle = handle
        self.fd = fd
        hub = Hub.current
        context.socketOpened(handle)
    }

    deinit {
        if let handle {
            watch?.cancel()
            context.socketClosed(handle)
            zmq_close(handle)
        }
    }

    /// The open socket's handle, or ``ZMQError/closed(_:)``.
    func live(_ operation: String) throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError.closed(operation) }
        return handle
    }

    /// Whether ``close(linger:)`` has been called.
    public var isClosed: Bool { handle == nil }

    /// Closes the socket. Green threads waiting on it throw ``ZMQError`` (`ENOTSOCK`). Unsent
    /// messages are kept for `linger` (nil: the socket's `ZMQ_LINGER`, libzmq's default is for ever
    /// and blocks context termination). Idempotent.
    public func close(linger: Duration? = nil) {
        guard let socket = handle else { return }
        if let linger { try? setOption(.linger, linger) }
        watch?.cancel()  // stop polling before zmq_close
        watch = nil
        handle = nil
        readable.set()
        writable.set()
        context.socketClosed(socket)
        zmq_close(socket)
    }

    // MARK: Endpoints

    /// Binds to `endpoint` (`tcp://127.0.0.1:5555`, `tcp://127.0.0.1:*`, `ipc://...`,
    /// `inproc://...`).
    public func bind(_ endpoint: String) throws {
        guard zmq_bind(try live("bind"), endpoint) == 0 else { throw ZMQError("bind \(endpoint)") }
    }

    /// Connects to `endpoint`; the connection is made in the background and retried by libzmq.
    public func connect(_ endpoint: String) throws {
        guard zmq_connect(try live("connect"), endpoint) == 0 else { throw ZMQError("connect \(endpoint)") }
    }

    /// Stops listening on a bound `endpoint`.
    public func unbind(_ endpoint: String) throws {
        guard zmq_unbind(try live("unbind"), endpoint) == 0 else { throw ZMQError("unbind \(endpoint)") }
    }

    /// Disconnects from a connected `endpoint`.
    public func disconnect(_ endpoint: String) throws {
        guard zmq_disconnect(try live("disconnect"), endpoint) == 0 else { throw ZMQError("disconnect \(endpoint)") }
    }

    /// The endpoint last bound, with a wildcard port resolved (`ZMQ_LAST_ENDPOINT`).
    public var lastEndpoint: String? { try? option(.lastEndpoint) }
}
