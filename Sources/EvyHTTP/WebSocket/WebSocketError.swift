/// A WebSocket failure (RFC 6455).
public enum WebSocketError: Error, Equatable, CustomStringConvertible {
    /// The upgrade handshake failed (a bad request or response, a refused origin).
    case handshake(String)
    /// The peer broke the protocol; the connection was closed with 1002 (or 1007 for bad UTF-8).
    case protocolError(String)
    /// A message was larger than the limit; the connection was closed with 1009.
    case messageTooLarge(limit: Int)
    /// The connection is closed (or closing): nothing more can be sent.
    case closed

    public var description: String {
        switch self {
        case .closed: "the WebSocket is closed"
        case .handshake(let why): "WebSocket handshake failed: \(why)"
        case .protocolError(let why): "WebSocket protocol error: \(why)"
        case .messageTooLarge(let limit): "WebSocket message larger than \(limit) bytes"
        }
    }
}
