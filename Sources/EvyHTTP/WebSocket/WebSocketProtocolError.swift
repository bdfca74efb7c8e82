/// How a peer broke RFC 6455, found by ``WebSocketFrameDecoder`` or by the connection, with the
/// close code the connection answers with. A plain value.
public enum WebSocketProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A reserved bit (RSV1-3) is set, and no extension was agreed.
    case reservedBitsSet
    /// A server masked a frame; servers never do.
    case maskedFrameFromServer
    /// A client sent an unmasked frame; clients mask every frame.
    case unmaskedFrameFromClient
    /// A control frame that is fragmented or has more than 125 bytes of payload.
    case invalidControlFrame
    /// An opcode RFC 6455 reserves.
    case unknownOpcode(UInt8)
    /// A frame or message longer than `limit` bytes.
    case messageTooLarge(limit: Int)
    /// A text or binary frame while a fragmented message is still incomplete.
    case newMessageInsideFragmentedOne
    /// A continuation frame with no fragmented message to continue.
    case continuationWithoutMessage
    /// A text message that is not UTF-8.
    case textNotUTF8
    /// A close frame with a one-byte payload (a code has two).
    case oneByteClosePayload
    /// A close code a peer may not send (RFC 6455 §7.4).
    case invalidCloseCode(UInt16)
    /// A close frame whose reason is not UTF-8.
    case closeReasonNotUTF8

    /// The close code that answers the error: 1007 for bad UTF-8, 1009 for too much, else 1002.
    public var closeCode: UInt16 {
        switch self {
        case .textNotUTF8, .closeReasonNotUTF8: 1007
        case .messageTooLarge: 1009
        default: 1002
        }
    }

    /// The reason, as the close frame and the connection's close status give it.
    public var description: String {
        switch self {
        case .reservedBitsSet: "reserved bits set"
        case .maskedFrameFromServer: "a masked frame from the server"
        case .unmaskedFrameFromClient: "an unmasked frame from the client"
        case .invalidControlFrame: "a fragmented or oversized control frame"
        case .unknownOpcode(let opcode): "unknown opcode \(opcode)"
        case .messageTooLarge: "message too large"
        case .newMessageInsideFragmentedOne: "a new message inside a fragmented one"
        case .continuationWithoutMessage: "a continuation frame without a message"
        case .textNotUTF8: "a text message that is not UTF-8"
        case .oneByteClosePayload: "a close frame with a one-byte payload"
        case .invalidCloseCode(let code): "close code \(code)"
        case .closeReasonNotUTF8: "a close reason that is not UTF-8"
        }
    }
}
