/// Where a WebSocket connection is in its life, and the only place that changes it: each method is
/// one move of RFC 6455's close handshake and refuses the moves it does not allow. Hub-confined,
/// like its connection.
struct WebSocketLifecycle {
    enum State: Equatable {
        /// Messages go both ways.
        case open
        /// Our close frame went out (or is going out); we wait for the peer's. Control frames may
        /// still be sent, messages not.
        case closeSent
        /// Over, with the peer's close code and reason, the protocol failure we found, or 1006 for
        /// a connection that broke. Only a close frame may still go out: our answer to the peer's,
        /// or our report of its failure.
        case closed(code: UInt16, reason: String)
    }

    private(set) var state = State.open

    /// The status once closed.
    var closeStatus: (code: UInt16, reason: String)? {
        guard case .closed(let code, let reason) = state else { return nil }
        return (code, reason)
    }

    /// Whether a frame with `opcode` may go out now.
    func allowsSending(_ opcode: WebSocketOpcode) -> Bool {
        switch state {
        case .open: true
        case .closeSent: opcode.isControl
        case .closed: opcode == .close
        }
    }

    /// We start the close handshake: true if our close frame is to go out (we are open).
    mutating func sendClose() -> Bool {
        guard state == .open else { return false }
        state = .closeSent
        return true
    }

    /// The peer's close frame came: true if we owe it our answer (we had not sent our close).
    mutating func peerClosed(code: UInt16, reason: String) -> Bool {
        let owesAnswer = state == .open
        end(code: code, reason: reason)
        return owesAnswer
    }

    /// The connection is over with `code` (the peer's close, a protocol failure, or 1006). A 1006
    /// only says the connection broke: a status learnt after it (say, the failure whose close
    /// frame could not be sent) replaces it; any other status is final.
    mutating func end(code: UInt16, reason: String) {
        if let status = closeStatus, status.code != 1006 { return }
        state = .closed(code: code, reason: reason)
    }

    /// The connection broke (1006) unless it already has a status: a send that failed, a frame
    /// cut in the middle.
    mutating func broke(_ reason: String) {
        if closeStatus == nil { state = .closed(code: 1006, reason: reason) }
    }
}
