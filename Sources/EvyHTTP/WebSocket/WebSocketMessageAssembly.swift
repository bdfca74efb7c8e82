/// The message being received, assembled from its data frames: kept by the connection across
/// receive calls, so a timeout between fragments loses nothing. A plain value.
struct WebSocketMessageAssembly {
    /// The largest message accepted.
    let limit: Int
    /// The opcode of the message's first frame (text or binary), while one is incomplete.
    private var kind: WebSocketOpcode?
    private var payload: [UInt8] = []

    init(limit: Int) { self.limit = limit }

    /// Adds a data frame (text, binary or continuation); returns the message once its final frame
    /// is in. Throws for a frame out of order, a message over the limit, or text that is not UTF-8.
    mutating func add(_ frame: consuming WebSocketFrame) throws(WebSocketProtocolError) -> WebSocket.Message? {
        if frame.opcode == .continuation {
            guard kind != nil else { throw .continuationWithoutMessage }
            payload += frame.payload
        } else {
            guard kind == nil else { throw .newMessageInsideFragmentedOne }
            kind = frame.opcode
            payload = frame.payload
        }
        guard payload.count <= limit else { throw .messageTooLarge(limit: limit) }
        guard frame.fin, let kind else { return nil }
        var message: [UInt8] = []
        swap(&message, &payload)
        self.kind = nil
        guard kind == .text else { return .binary(message) }
        guard let text = String(validating: message, as: UTF8.self) else { throw .textNotUTF8 }
        return .text(text)
    }
}
