import CZeroMQ
import Evy

extension ZMQSocket {
    /// A socket option whose value has the Swift type `Value`, so a wrong type does not compile:
    ///
    /// ```swift
    /// try socket.setOption(.sendHighWaterMark, 2)
    /// try socket.setOption(.linger, .seconds(1))
    /// let endpoint = try socket.option(.lastEndpoint)
    /// ```
    /// Options without a name here are made from libzmq's number: `Option<Int32>(ZMQ_RATE)`.
    /// Setting a read-only option, or reading a write-only one, throws libzmq's `EINVAL`.
    public struct Option<Value>: Sendable {
        /// libzmq's number for the option (`ZMQ_SNDHWM`...).
        public let name: Int32
        fileprivate let set: @Sendable (ZMQSocket, Value) throws -> Void
        fileprivate let get: @Sendable (ZMQSocket) throws -> Value
    }

    /// Sets `option` to `value`. Throws ``ZMQError`` if libzmq refuses it (or the socket is closed).
    public func setOption<Value>(_ option: Option<Value>, _ value: Value) throws { try option.set(self, value) }

    /// Reads `option`. Throws ``ZMQError`` if libzmq refuses it (or the socket is closed).
    public func option<Value>(_ option: Option<Value>) throws -> Value { try option.get(self) }

    // MARK: The option types, by libzmq's number

    /// Sets an integer option.
    public func setOption(_ option: Int32, _ value: Int32) throws { try setScalar(option, value) }

    /// Sets a 64-bit integer option (`ZMQ_MAXMSGSIZE`...).
    public func setLongOption(_ option: Int32, _ value: Int64) throws { try setScalar(option, value) }

    /// Sets a binary option (`ZMQ_SUBSCRIBE`, `ZMQ_ROUTING_ID`, CURVE keys...).
    public func setOption(_ option: Int32, _ value: [UInt8]) throws {
        let socket = try live("setsockopt")
        let status = value.withUnsafeBytes { zmq_setsockopt(socket, option, $0.baseAddress, $0.count) }
        guard status == 0 else { throw ZMQError("setsockopt(\(option))") }
    }

    /// Reads an integer option.
    public func intOption(_ option: Int32) throws -> Int32 { try scalar(option) }

    /// Reads a string option.
    public func stringOption(_ option: Int32) throws -> String {
        String(decoding: try bytesOption(option).prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Reads a binary option of at most `capacity` bytes (libzmq wants exactly 41 for a Z85 key).
    func bytesOption(_ option: Int32, capacity: Int = 256) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var length = buffer.count
        let socket = try live("getsockopt")
        let status = buffer.withUnsafeMutableBytes { zmq_getsockopt(socket, option, $0.baseAddress, &length) }
        guard status == 0 else { throw ZMQError("getsockopt(\(option))") }
        return Array(buffer.prefix(length))
    }

    private func setScalar<T: FixedWidthInteger>(_ option: Int32, _ value: T) throws {
        var value = value
        guard zmq_setsockopt(try live("setsockopt"), option, &value, MemoryLayout<T>.size) == 0 else {
            throw ZMQError("setsockopt(\(option))")
        }
    }

    fileprivate func scalar<T: FixedWidthInteger>(_ option: Int32) throws -> T {
        var value: T = 0
        var length = MemoryLayout<T>.size
        guard zmq_getsockopt(try live("getsockopt"), option, &value, &length) == 0 else {
            throw ZMQError("getsockopt(\(option))")
        }
        return value
    }

    // MARK: Conveniences

    /// Subscribes a SUB socket to messages starting with `prefix` (empty: all).
    public func subscribe(_ prefix: String = "") throws { try setOption(.subscribe, Array(prefix.utf8)) }

    /// Removes a subscription.
    public func unsubscribe(_ prefix: String) throws { try setOption(.unsubscribe, Array(prefix.utf8)) }

    /// The socket's routing identity as seen by a ROUTER peer (`ZMQ_ROUTING_ID`).
    public func setRoutingID(_ id: [UInt8]) throws { try setOption(.routingID, id) }

    /// How long unsent messages are kept after close (`ZMQ_LINGER`; nil: for ever).
    public func setLinger(_ linger: Duration?) throws { try setOption(.linger, linger) }

    /// The high-water marks: messages queued per peer before sends wait (or drop, for PUB).
    public func setHighWaterMarks(send: Int32? = nil, receive: Int32? = nil) throws {
        if let send { try setOption(.sendHighWaterMark, send) }
        if let receive { try setOption(.receiveHighWaterMark, receive) }
    }

    /// Makes a ROUTER fail with `EHOSTUNREACH` for unknown peers instead of dropping silently.
    public func setRouterMandatory(_ on: Bool) throws { try setOption(.routerMandatory, on) }

    /// Queues messages only to completed connections (`ZMQ_IMMEDIATE`).
    public func setImmediate(_ on: Bool) throws { try setOption(.immediate, on) }

    /// TCP keepalive on the socket's connections.
    public func setTCPKeepalive(_ on: Bool) throws { try setOption(.tcpKeepalive, on) }

    /// ZMTP heartbeats: a ping every `interval`; the connection is dropped if no traffic arrives
    /// within `timeout`; `ttl` is what the peer is told to allow.
    public func setHeartbeat(interval: Duration, timeout: Duration? = nil, ttl: Duration? = nil) throws {
        try setOption(.heartbeatInterval, interval)
        if let timeout { try setOption(.heartbeatTimeout, timeout) }
        if let ttl { try setOption(.heartbeatTTL, ttl) }
    }

    /// The largest message accepted from a peer; a peer sending more is disconnected.
    public func setMaxMessageSize(_ bytes: Int64) throws { try setOption(.maxMessageSize, bytes) }
}

// MARK: The options by value type

extension ZMQSocket.Option where Value == Int32 {
    /// An integer option, by libzmq's number.
    public init(_ name: Int32) {
        self.init(name: name, set: { try $0.setOption(name, $1) }, get: { try $0.scalar(name) })
    }

    /// `ZMQ_SNDHWM`: messages queued per peer before sends wait (or drop, for PUB); 0: no limit.
    public static var sendHighWaterMark: Self { Self(ZMQ_SNDHWM) }
    /// `ZMQ_RCVHWM`: messages queued per peer on the receiving side; 0: no limit.
    public static var receiveHighWaterMark: Self { Self(ZMQ_RCVHWM) }
}

extension ZMQSocket.Option where Value == Int64 {
    /// A 64-bit integer option, by libzmq's number.
    public init(_ name: Int32) {
        self.init(name: name, set: { try $0.setLongOption(name, $1) }, get: { try $0.scalar(name) })
    }

    /// `ZMQ_MAXMSGSIZE`: the largest message accepted from a peer, in bytes (a peer sending more is
    /// disconnected); -1: no limit.
    public static var maxMessageSize: Self { Self(ZMQ_MAXMSGSIZE) }
}

extension ZMQSocket.Option where Value == Bool {
    /// An on/off option (an integer 1 or 0), by libzmq's number.
    public init(_ name: Int32) {
        self.init(
            name: name, set: { try $0.setOption(name, Int32($1 ? 1 : 0)) }, get: { try $0.scalar(name) as Int32 == 1 })
    }

    /// `ZMQ_ROUTER_MANDATORY`: a ROUTER fails with `EHOSTUNREACH` for unknown peers instead of
    /// dropping the message silently.
    public static var routerMandatory: Self { Self(ZMQ_ROUTER_MANDATORY) }
    /// `ZMQ_IMMEDIATE`: messages are queued only to completed connections.
    public static var immediate: Self { Self(ZMQ_IMMEDIATE) }
    /// `ZMQ_TCP_KEEPALIVE`: TCP keepalive on the socket's connections (read as false while it is
    /// the system's default, -1).
    public static var tcpKeepalive: Self { Self(ZMQ_TCP_KEEPALIVE) }
    /// `ZMQ_CURVE_SERVER`: the socket is a CURVE server (needs ``curveSecretKey``).
    public static var curveServer: Self { Self(ZMQ_CURVE_SERVER) }
    /// `ZMQ_RCVMORE` (read-only): the frame last received has more parts after it.
    public static var receiveMore: Self { Self(ZMQ_RCVMORE) }
}

extension ZMQSocket.Option where Value == [UInt8] {
    /// A binary option, by libzmq's number; reading it takes at most 256 bytes.
    public init(_ name: Int32) {
        self.init(name: name, set: { try $0.setOption(name, $1) }, get: { try $0.bytesOption(name) })
    }

    /// `ZMQ_SUBSCRIBE` (write-only): a SUB socket receives messages starting with these bytes.
    public static var subscribe: Self { Self(ZMQ_SUBSCRIBE) }
    /// `ZMQ_UNSUBSCRIBE` (write-only): removes a subscription.
    public static var unsubscribe: Self { Self(ZMQ_UNSUBSCRIBE) }
    /// `ZMQ_ROUTING_ID`: the socket's identity as seen by a ROUTER peer.
    public static var routingID: Self { Self(ZMQ_ROUTING_ID) }
}

extension ZMQSocket.Option where Value == String {
    /// A text option, by libzmq's number; reading it takes at most `capacity` bytes, up to the
    /// first NUL.
    public init(_ name: Int32, capacity: Int = 256) {
        self.init(
            name: name, set: { try $0.setOption(name, Array($1.utf8)) },
            get: { String(decoding: try $0.bytesOption(name, capacity: capacity).prefix { $0 != 0 }, as: UTF8.self) })
    }

    /// `ZMQ_LAST_ENDPOINT` (read-only): the endpoint last bound, with a wildcard port resolved.
    public static var lastEndpoint: Self { Self(ZMQ_LAST_ENDPOINT) }
    /// `ZMQ_CURVE_SECRETKEY`: the socket's CURVE secret key, Z85 text (40 characters).
    public static var curveSecretKey: Self { Self(ZMQ_CURVE_SECRETKEY, capacity: 41) }
    /// `ZMQ_CURVE_PUBLICKEY`: a CURVE client's public key, Z85 text.
    public static var curvePublicKey: Self { Self(ZMQ_CURVE_PUBLICKEY, capacity: 41) }
    /// `ZMQ_CURVE_SERVERKEY`: the public key of the server a CURVE client connects to, Z85 text.
    public static var curveServerKey: Self { Self(ZMQ_CURVE_SERVERKEY, capacity: 41) }
}

extension ZMQSocket.Option where Value == Duration {
    /// A duration option held in whole milliseconds, by libzmq's number.
    public init(_ name: Int32) {
        self.init(
            name: name, set: { try $0.setOption(name, Int32($1 / .milliseconds(1))) },
            get: { .milliseconds(try $0.scalar(name) as Int32) })
    }

    /// `ZMQ_HEARTBEAT_IVL`: a ZMTP ping every this long (zero: no heartbeats).
    public static var heartbeatInterval: Self { Self(ZMQ_HEARTBEAT_IVL) }
    /// `ZMQ_HEARTBEAT_TIMEOUT`: the connection is dropped if no traffic arrives within this after a
    /// ping.
    public static var heartbeatTimeout: Self { Self(ZMQ_HEARTBEAT_TIMEOUT) }
    /// `ZMQ_HEARTBEAT_TTL`: how long the peer is told to allow without traffic.
    public static var heartbeatTTL: Self { Self(ZMQ_HEARTBEAT_TTL) }
}

extension ZMQSocket.Option where Value == Duration? {
    /// A duration option held in whole milliseconds where -1 means for ever (nil), by libzmq's
    /// number.
    public init(_ name: Int32) {
        self.init(
            name: name, set: { try $0.setOption(name, $1.map { Int32($0 / .milliseconds(1)) } ?? -1) },
            get: {
                let ms: Int32 = try $0.scalar(name)
                return ms < 0 ? nil : .milliseconds(ms)
            })
    }

    /// `ZMQ_LINGER`: how long unsent messages are kept after close (nil: for ever, libzmq's default).
    public static var linger: Self { Self(ZMQ_LINGER) }
}
