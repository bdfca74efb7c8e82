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
/// How it stays correct: libzmq's `ZMQ_FD` is edge-triggered and only says "something
/// changed", so every wait re-tries the non-blocking operation first, the descriptor is watched only
/// while green threads wait, its callback always reads `ZMQ_EVENTS` (which consumes the edge: an
/// idle socket costs no CPU), and after every successful send or receive `ZMQ_EVENTS` is read again
/// and the green threads waiting for the other direction are woken. A multipart send holds the
/// socket's send lock and a multipart receive never yields between parts, so messages of several
/// green threads never interleave. Hub-confined.
public final class ZMQSocket: @unchecked Sendable {
    /// The socket's type.
    public let type: ZMQSocketType
    /// The context it belongs to.
    public let context: ZMQContext
    @usableFromInline var handle: UnsafeMutableRawPointer?
    private let fd: Int32
    private let hub: Hub
    private let readable = Flag()
    private let writable = Flag()
    @usableFromInline var waiters = 0
    private var watch: Handle?
    /// Pollers watching this socket: told of every change of its events.
    private var observers: [ObjectIdentifier: Flag] = [:]
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

    private func live(_ operation: String) throws -> UnsafeMutableRawPointer {
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
        if let linger { try? setOption(ZMQ_LINGER, Int32(linger / .milliseconds(1))) }
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
    public var lastEndpoint: String? { try? stringOption(ZMQ_LAST_ENDPOINT) }

    // MARK: Waiting

    /// `ZMQ_EVENTS`: reading it also consumes the descriptor's edge. If it cannot be read (the
    /// context was terminated: `ETERM`), both directions are reported, so that every waiter tries
    /// its operation again and meets the error.
    private func events() -> Int32 {
        guard let handle else { return 0 }
        var events: Int32 = 0
        var length = MemoryLayout<Int32>.size
        guard zmq_getsockopt(handle, ZMQ_EVENTS, &events, &length) == 0 else {
            return Int32(ZMQ_POLLIN) | Int32(ZMQ_POLLOUT)
        }
        return events
    }

    /// Whether some green thread waits on the socket or a poller observes it: then whoever reads
    /// `ZMQ_EVENTS` (any operation may consume the edge) must pass the news on.
    @usableFromInline var hasInterest: Bool { waiters > 0 || !observers.isEmpty }

    /// Reads `ZMQ_EVENTS` and wakes the green threads that can now proceed. Every read of
    /// `ZMQ_EVENTS` goes through here: reading it consumes the descriptor's edge, so whoever reads
    /// it must also pass the news on.
    @discardableResult @usableFromInline
    func eventsChanged(notifyingObservers: Bool = true) -> Int32 {
        let events = events()
        if events & Int32(ZMQ_POLLIN) != 0 { readable.set() }
        if events & Int32(ZMQ_POLLOUT) != 0 { writable.set() }
        if notifyingObservers && events != 0 { for flag in observers.values { flag.set() } }
        return events
    }

    /// The socket's `ZMQ_EVENTS` now (`ZMQ_POLLIN`, `ZMQ_POLLOUT`), as a poller reads them: green
    /// threads waiting on the socket are woken if they can proceed, pollers are not (they are the
    /// ones reading).
    public var currentEvents: Int32 { eventsChanged(notifyingObservers: false) }

    /// Starts telling `flag` about changes (a ``ZMQPoller``), watching the descriptor meanwhile.
    func addObserver(_ flag: Flag, id: ObjectIdentifier) throws {
        observers[id] = flag
        try updateWatch()
    }

    func removeObserver(id: ObjectIdentifier) {
        observers[id] = nil
        try? updateWatch()
    }

    private func updateWatch() throws {
        let interested = waiters > 0 || !observers.isEmpty
        if interested && watch == nil && handle != nil {
            watch = try hub.addReader(fd) { [unowned self] in eventsChanged() }
        } else if !interested, let watch {
            watch.cancel()
            self.watch = nil
        }
    }

    /// Parks until `flag` is set (by the descriptor's callback or another green thread's
    /// operation), watching the descriptor meanwhile.
    private func waitFor(_ flag: Flag, deadline: ContinuousClock.Instant?, limit: Duration?) async throws {
        waiters += 1
        defer {
            waiters -= 1
            try? updateWatch()
        }
        try updateWatch()
        // The edge may have fired before we watched: look once more before sleeping.
        eventsChanged()
        let remaining = deadline.map { hub.now.duration(to: $0) }
        if let remaining, remaining <= .zero { throw TimeoutError(duration: limit ?? .zero) }
        guard try await flag.wait(timeout: remaining) else { throw TimeoutError(duration: limit ?? .zero) }
    }

    /// Runs the non-blocking `attempt` until it succeeds, waiting on `flag` while it would block.
    /// Inlined into each operation: every async frame is an allocation in the task's allocator,
    /// and a message that needs no waiting should cost one.
    @inline(__always)
    private func retrying<T>(
        _ operation: String, _ flag: Flag, timeout: Duration?, interruptible: Bool = true,
        _ attempt: (UnsafeMutableRawPointer) -> T?
    ) async throws -> T {
        var deadline: ContinuousClock.Instant?
        while true {
            let socket = try live(operation)
            flag.clear()
            if let result = attempt(socket) {
                // The operation may have consumed the descriptor's edge: green threads waiting for
                // the other direction must look at ZMQ_EVENTS again. Nobody waiting, nobody to
                // wake: a later waiter reads ZMQ_EVENTS itself before it sleeps.
                if hasInterest { eventsChanged() }
                return result
            }
            if deadline == nil, let timeout { deadline = hub.now.advanced(by: timeout) }
            let code = zmq_errno()
            guard code == EAGAIN else { throw ZMQError(operation, code) }
            if interruptible {
                try await waitFor(flag, deadline: deadline, limit: timeout)
            } else {
                // The rest of a multipart message: finish it whatever happens to this green thread,
                // or the next message would continue this one.
                _ = await Task(executorPreference: hub.taskExecutor) { [self] in
                    try? await waitFor(flag, deadline: nil, limit: nil)
                }.value
            }
        }
    }

    // MARK: Sending

    private func sendFrame(_ bytes: [UInt8], more: Bool, timeout: Duration?, interruptible: Bool) async throws {
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        _ = try await retrying("send", writable, timeout: timeout, interruptible: interruptible) { socket -> Bool? in
            let sent = bytes.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
            return sent >= 0 ? true : nil
        }
    }

    /// Sends one frame, waiting while the socket cannot take it (high-water mark, no peer). With
    /// `more`, it is a part of a multipart message whose last part is sent without it; prefer
    /// ``sendMultipart(_:timeout:)``, which keeps the parts together.
    @inlinable
    public func send(_ frame: [UInt8], more: Bool = false, timeout: Duration? = nil) async throws {
        if !more, frame.withUnsafeBytes({ sendImmediately($0) }) { return }
        try await sendFrameWaiting(frame, more: more, timeout: timeout)
    }

    @usableFromInline
    func sendFrameWaiting(_ frame: [UInt8], more: Bool, timeout: Duration?) async throws {
        // Only a multipart send in progress (another green thread holding the lock mid-message)
        // makes a single frame wait its turn.
        guard sendLock.isLocked || more else {
            return try await sendFrame(frame, more: false, timeout: timeout ?? sendTimeout, interruptible: true)
        }
        try await sendLock.withLock {
            try await sendFrame(frame, more: more, timeout: timeout ?? sendTimeout, interruptible: true)
        }
    }

    /// Sends `text` as one UTF-8 frame.
    public func send(_ text: String, timeout: Duration? = nil) async throws {
        try await send(Array(text.utf8), timeout: timeout)
    }

    /// Sends a multipart message. It is atomic with respect to other green threads sending on this
    /// socket; once the first part is taken, the rest are sent even if the timeout passes.
    public func sendMultipart(_ frames: [[UInt8]], timeout: Duration? = nil) async throws {
        precondition(!frames.isEmpty, "a message has at least one part")
        try await sendLock.withLock {
            for (index, frame) in frames.enumerated() {
                try await sendFrame(
                    frame, more: index < frames.count - 1, timeout: timeout ?? sendTimeout, interruptible: index == 0)
            }
        }
    }

    /// Sends one frame if that needs no waiting; throws a ``ZMQError`` with
    /// ``ZMQError/wouldBlock`` otherwise.
    public func sendNowait(_ frame: [UInt8], more: Bool = false) throws {
        let socket = try live("send")
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        let sent = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        guard sent >= 0 else {
            let error = ZMQError("send")
            if hasInterest { eventsChanged() }  // a failed call may have consumed the edge too
            throw error
        }
        if hasInterest { eventsChanged() }
    }

    // MARK: Receiving

    @usableFromInline
    func receiveFrame(_ socket: UnsafeMutableRawPointer) -> [UInt8]? {
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        let size = zmq_msg_recv(&message, socket, ZMQ_DONTWAIT)
        guard size >= 0 else { return nil }
        let data = zmq_msg_data(&message)!
        return Array(UnsafeRawBufferPointer(start: data, count: Int(size)))
    }

    /// Receives one frame, waiting for one. If it is part of a multipart message, ``hasMore`` is
    /// true and the next receive returns the next part; ``receiveMultipart(timeout:)`` takes the
    /// whole message at once.
    @inlinable
    public func receive(timeout: Duration? = nil) async throws -> [UInt8] {
        if let handle, let frame = receiveFrame(handle) {
            if hasInterest { eventsChanged() }
            return frame
        }
        return try await receiveWaiting(timeout: timeout)
    }

    @usableFromInline
    func receiveWaiting(timeout: Duration?) async throws -> [UInt8] {
        try await retrying("recv", readable, timeout: timeout ?? receiveTimeout) { receiveFrame($0) }
    }

    /// Receives one frame into `buffer` without allocating (the hot-path form); returns the frame's
    /// size, which is larger than the buffer if the frame was truncated. The memory must stay valid
    /// until the call returns.
    @inlinable
    public func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration? = nil) async throws -> Int {
        // Inlined into the caller: a frame that is already there costs a plain function call, not
        // an async call (each async call allocates a frame in the task's allocator).
        if let size = receiveImmediately(into: buffer) { return size }
        return try await receiveWaiting(into: buffer, timeout: timeout)
    }

    @usableFromInline
    func receiveImmediately(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let socket = handle else { return nil }
        let size = zmq_recv(socket, buffer.baseAddress, buffer.count, ZMQ_DONTWAIT)
        guard size >= 0 else { return nil }
        if hasInterest { eventsChanged() }
        return Int(size)
    }

    @usableFromInline
    func receiveWaiting(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration?) async throws -> Int {
        try await retrying("recv", readable, timeout: timeout ?? receiveTimeout) { socket -> Int? in
            let size = zmq_recv(socket, buffer.baseAddress, buffer.count, ZMQ_DONTWAIT)
            return size >= 0 ? Int(size) : nil
        }
    }

    /// Sends the bytes `buffer` points at as one frame, without an intermediate array. The memory
    /// must stay valid until the call returns.
    @inlinable
    public func send(_ buffer: UnsafeRawBufferPointer, timeout: Duration? = nil) async throws {
        if sendImmediately(buffer) { return }
        try await sendWaiting(buffer, timeout: timeout)
    }

    @usableFromInline
    func sendImmediately(_ buffer: UnsafeRawBufferPointer) -> Bool {
        guard let socket = handle, !sendLock.isLocked else { return false }
        guard zmq_send(socket, buffer.baseAddress, buffer.count, ZMQ_DONTWAIT) >= 0 else { return false }
        if hasInterest { eventsChanged() }
        return true
    }

    @usableFromInline
    func sendWaiting(_ buffer: UnsafeRawBufferPointer, timeout: Duration?) async throws {
        if sendLock.isLocked { try await sendLock.acquire(); try? sendLock.release() }
        _ = try await retrying("send", writable, timeout: timeout ?? sendTimeout) { socket -> Bool? in
            zmq_send(socket, buffer.baseAddress, buffer.count, ZMQ_DONTWAIT) >= 0 ? true : nil
        }
    }

    /// Receives one frame and decodes it as UTF-8.
    public func receiveString(timeout: Duration? = nil) async throws -> String {
        String(decoding: try await receive(timeout: timeout), as: UTF8.self)
    }

    /// Receives a whole multipart message. It never yields between parts (libzmq delivers a
    /// message's parts together), so it is atomic with respect to other green threads.
    public func receiveMultipart(timeout: Duration? = nil) async throws -> [[UInt8]] {
        var frames = [try await receive(timeout: timeout)]
        while hasMore {
            let socket = try live("recv")
            guard let frame = receiveFrame(socket) else { throw ZMQError("recv") }
            frames.append(frame)
        }
        if hasInterest { eventsChanged() }
        return frames
    }

    /// Receives one frame if one is there; throws a ``ZMQError`` with ``ZMQError/wouldBlock``
    /// otherwise.
    public func receiveNowait() throws -> [UInt8] {
        guard let frame = receiveFrame(try live("recv")) else {
            let error = ZMQError("recv")
            if hasInterest { eventsChanged() }  // a failed call may have consumed the edge too
            throw error
        }
        if hasInterest { eventsChanged() }
        return frame
    }

    /// Whether the frame last received has more parts after it (`ZMQ_RCVMORE`).
    public var hasMore: Bool { ((try? intOption(ZMQ_RCVMORE)) ?? 0) != 0 }

    // MARK: Monitoring

    func startMonitor(_ endpoint: String, events: Int32) throws {
        guard zmq_socket_monitor(try live("monitor"), endpoint, events) == 0 else { throw ZMQError("monitor") }
    }

    func stopMonitor() {
        if let handle { zmq_socket_monitor(handle, nil, 0) }
    }

    // MARK: Options

    /// Sets an integer option.
    public func setOption(_ option: Int32, _ value: Int32) throws {
        var value = value
        guard zmq_setsockopt(try live("setsockopt"), option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError("setsockopt(\(option))")
        }
    }

    /// Sets a 64-bit integer option (`ZMQ_MAXMSGSIZE`...).
    public func setLongOption(_ option: Int32, _ value: Int64) throws {
        var value = value
        guard zmq_setsockopt(try live("setsockopt"), option, &value, MemoryLayout<Int64>.size) == 0 else {
            throw ZMQError("setsockopt(\(option))")
        }
    }

    /// Sets a binary option (`ZMQ_SUBSCRIBE`, `ZMQ_ROUTING_ID`, CURVE keys...).
    public func setOption(_ option: Int32, _ value: [UInt8]) throws {
        let socket = try live("setsockopt")
        let status = value.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        guard status == 0 else { throw ZMQError("setsockopt(\(option))") }
    }

    /// Reads an integer option.
    public func intOption(_ option: Int32) throws -> Int32 {
        var value: Int32 = 0
        var length = MemoryLayout<Int32>.size
        guard zmq_getsockopt(try live("getsockopt"), option, &value, &length) == 0 else {
            throw ZMQError("getsockopt(\(option))")
        }
        return value
    }

    /// Reads a string option.
    public func stringOption(_ option: Int32) throws -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        var length = buffer.count
        let socket = try live("getsockopt")
        let status = buffer.withUnsafeMutableBytes { zmq_getsockopt(socket, option, $0.baseAddress, &length) }
        guard status == 0 else { throw ZMQError("getsockopt(\(option))") }
        return String(decoding: buffer.prefix(length).prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Subscribes a SUB socket to messages starting with `prefix` (empty: all).
    public func subscribe(_ prefix: String = "") throws { try setOption(ZMQ_SUBSCRIBE, Array(prefix.utf8)) }

    /// Removes a subscription.
    public func unsubscribe(_ prefix: String) throws { try setOption(ZMQ_UNSUBSCRIBE, Array(prefix.utf8)) }

    /// The socket's routing identity as seen by a ROUTER peer (`ZMQ_ROUTING_ID`).
    public func setRoutingID(_ id: [UInt8]) throws { try setOption(ZMQ_ROUTING_ID, id) }

    /// How long unsent messages are kept after close (`ZMQ_LINGER`; nil: for ever).
    public func setLinger(_ linger: Duration?) throws {
        try setOption(ZMQ_LINGER, linger.map { Int32($0 / .milliseconds(1)) } ?? -1)
    }

    /// The high-water marks: messages queued per peer before sends wait (or drop, for PUB).
    public func setHighWaterMarks(send: Int32? = nil, receive: Int32? = nil) throws {
        if let send { try setOption(ZMQ_SNDHWM, send) }
        if let receive { try setOption(ZMQ_RCVHWM, receive) }
    }

    /// Makes a ROUTER fail with `EHOSTUNREACH` for unknown peers instead of dropping silently.
    public func setRouterMandatory(_ on: Bool) throws { try setOption(ZMQ_ROUTER_MANDATORY, Int32(on ? 1 : 0)) }

    /// Queues messages only to completed connections (`ZMQ_IMMEDIATE`).
    public func setImmediate(_ on: Bool) throws { try setOption(ZMQ_IMMEDIATE, Int32(on ? 1 : 0)) }

    /// TCP keepalive on the socket's connections.
    public func setTCPKeepalive(_ on: Bool) throws { try setOption(ZMQ_TCP_KEEPALIVE, Int32(on ? 1 : 0)) }

    /// ZMTP heartbeats: a ping every `interval`; the connection is dropped if no traffic arrives
    /// within `timeout`; `ttl` is what the peer is told to allow.
    public func setHeartbeat(interval: Duration, timeout: Duration? = nil, ttl: Duration? = nil) throws {
        try setOption(ZMQ_HEARTBEAT_IVL, Int32(interval / .milliseconds(1)))
        if let timeout { try setOption(ZMQ_HEARTBEAT_TIMEOUT, Int32(timeout / .milliseconds(1))) }
        if let ttl { try setOption(ZMQ_HEARTBEAT_TTL, Int32(ttl / .milliseconds(1))) }
    }

    /// The largest message accepted from a peer; a peer sending more is disconnected.
    public func setMaxMessageSize(_ bytes: Int64) throws { try setLongOption(ZMQ_MAXMSGSIZE, bytes) }
}
