/// What a WebSocket frame carries (RFC 6455 §5.2): a piece of a message, or a control frame.
/// A plain value; the other opcodes are reserved and a peer sending one breaks the protocol.
public enum WebSocketOpcode: UInt8, Sendable, CaseIterable {
    /// The next piece of a fragmented message.
    case continuation = 0x0
    /// The first (or only) frame of a UTF-8 text message.
    case text = 0x1
    /// The first (or only) frame of a binary message.
    case binary = 0x2
    /// The close handshake; the payload is empty or a code and a UTF-8 reason.
    case close = 0x8
    /// A ping, to be answered with a pong carrying the same payload.
    case ping = 0x9
    /// The answer to a ping (or a one-way heartbeat).
    case pong = 0xA

    /// A control frame (close, ping, pong): never fragmented, at most 125 bytes of payload, and
    /// allowed between the frames of a fragmented message.
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
