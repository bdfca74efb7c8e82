import Evy
import EvyZMQ
import Glibc

/// A message as it came off a socket: who sent it (the routing id a ROUTER socket adds; empty on
/// a DEALER) and the message, or why its frames could not be read.
struct Envelope {
    /// The sender's routing id (ROUTER sockets), empty otherwise.
    let peer: [UInt8]
    /// The message, or the codec's reason for refusing the frames.
    let message: Result<Message, ProtocolError>
    /// The request id of the frames, for an ERROR answer to an unreadable message.
    let request: UInt64
}

extension ZMQSocket {
    /// Sends `message`, to `peer` on a ROUTER socket (nil on a DEALER). Waits while the socket
    /// cannot take it; throws the socket's errors.
    func send(_ message: Message, to peer: [UInt8]? = nil, timeout: Duration? = nil) async throws {
        var frames = MessageCodec.encode(message)
        if let peer { frames.insert(peer, at: 0) }
        try await sendMultipart(frames, timeout: timeout)
    }

    /// Sends `message` if the socket takes it at once, and drops it otherwise (a peer that went
    /// away, or a full queue: heartbeats and other messages that are sent again later).
    func trySend(_ message: Message, to peer: [UInt8]? = nil) async {
        try? await send(message, to: peer, timeout: .zero)
    }

    /// Receives the next message; on a ROUTER socket (`routed`) the first frame is the sender.
    /// Frames that do not decode come back as a failed ``Envelope/message``; the socket's own
    /// errors (closed, interrupted) are thrown.
    func receiveEnvelope(routed: Bool, timeout: Duration? = nil) async throws -> Envelope {
        var frames = try await receiveMultipart(timeout: timeout)
        var peer: [UInt8] = []
        if routed, !frames.isEmpty { peer = frames.removeFirst() }
        do {
            return Envelope(peer: peer, message: .success(try MessageCodec.decode(frames)), request: 0)
        } catch {
            return Envelope(
                peer: peer, message: .failure(error), request: MessageCodec.requestID(ofUndecodable: frames))
        }
    }
}

/// Milliseconds since 1970, the protocol's clock for `notBefore`.
func unixMilliseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
}

extension ZMQSocket {
    /// A socket as every role uses one: no linger at close (the protocol re-sends what matters),
    /// no high-water mark (credit and the per-client limit bound the queues), and at most
    /// `maxPayloadBytes` of payload per message (a bigger one drops its peer's connection).
    static func forRole(_ type: ZMQSocketType, maxPayloadBytes: Int = 1 << 20) throws -> ZMQSocket {
        let socket = try ZMQSocket(type)
        try socket.setLinger(.zero)
        try socket.setHighWaterMarks(send: 0, receive: 0)
        try socket.setMaxMessageSize(Int64(maxPayloadBytes + MessageCodec.maxHeaderBytes + 4096))
        return socket
    }
}
