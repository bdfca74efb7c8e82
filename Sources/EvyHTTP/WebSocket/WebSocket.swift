import Evy
import Foundation

/// A WebSocket connection (RFC 6455), server or client side: text, binary and fragmented messages,
/// ping/pong, the close handshake, a message size limit, and the masking rules enforced.
///
/// ```swift
/// // Server: inside an HTTPServer handler.
/// return .webSocket(request) { socket in
///     while let message = try await socket.receive() { try await socket.send(message) }
/// }
/// // Client:
/// let socket = try await WebSocket.connect(to: "ws://127.0.0.1:7000/echo")
/// ```
/// Hub-confined.
public final class WebSocket: @unchecked Sendable {
    /// A message.
    public enum Message: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
    }

    private let stream: any GreenStream
    private let reader: BufferedStream
    private let isClient: Bool
    /// The largest message accepted.
    public let maxMessageBytes: Int
    /// The close code and reason the peer sent, once it closed.
    public private(set) var closeStatus: (code: UInt16, reason: String)?
    private var closeSent = false
    private let sendLock = Lock()
    /// How long sending one frame may take before the peer counts as gone (it stopped reading).
    public var sendTimeout: Duration? = .seconds(30)
    /// The message being received, kept across calls: a timeout between its fragments loses nothing.
    private var partialOpcode: UInt8?
    private var partialPayload: [UInt8] = []
    /// One reader at a time: frames of one message must not go to two green threads, and
    /// ``close(code:reason:timeout:)`` reads after whoever is reading.
    private let receiveLock = Lock()

    init(stream: any GreenStream, reader: BufferedStream, isClient: Bool, maxMessageBytes: Int) {
        self.stream = stream
        self.reader = reader
        self.isClient = isClient
        self.maxMessageBytes = maxMessageBytes
    }

    // MARK: Receiving

    /// Waits for the next message; answers pings by itself. Returns nil once the peer has closed
    /// (the close handshake is answered). Throws ``WebSocketError`` if the peer breaks the
    /// protocol or sends too much (the connection is then closed with the matching code).
    public func receive(timeout: Duration? = nil) async throws -> Message? {
        // One deadline for the whole call: waiting for another reader, then every frame.
        let deadline = timeout.map { ContinuousClock.now + $0 }
        func remaining() -> Duration? { deadline.map { max(.zero, $0 - .now) } }
        guard try await receiveLock.acquire(timeout: timeout) else { throw TimeoutError(duration: timeout ?? .zero) }
        defer { try? receiveLock.release() }
        while true {
            guard closeStatus == nil else { return nil }
            let frame = try await readFrame(timeout: remaining())
            switch frame.opcode {
            case 0x8:  // close
                var code: UInt16 = 1005
                var reason = ""
                if frame.payload.count >= 2 {
                    code = UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1])
                    guard WebSocket.isValidCloseCode(code) else { try await fail(1002, "close code \(code)") }
                    guard let text = String(validating: frame.payload[2...], as: UTF8.self) else {
                        try await fail(1007, "a close reason that is not UTF-8")
                    }
                    reason = text
                } else if frame.payload.count == 1 {
                    try await fail(1002, "a close frame with a one-byte payload")
                }
                closeStatus = (code, reason)
                if !closeSent {
                    closeSent = true
                    try? await sendFrame(opcode: 0x8, payload: frame.payload.count >= 2 ? Array(frame.payload[..<2]) : [])
                }
                stream.close()
                return nil
            case 0x9:  // ping
                try await sendFrame(opcode: 0xA, payload: frame.payload)
            case 0xA:  // pong
                break
            case 0x1, 0x2:
                guard partialOpcode == nil else { try await fail(1002, "a new message inside a fragmented one") }
                partialOpcode = frame.opcode
                partialPayload = frame.payload
            case 0x0:
                guard partialOpcode != nil else { try await fail(1002, "a continuation frame without a message") }
                partialPayload += frame.payload
            default:
                try await fail(1002, "unknown opcode \(frame.opcode)")
            }
            if partialPayload.count > maxMessageBytes {
                try await fail(1009, nil, error: .messageTooLarge(limit: maxMessageBytes))
            }
            if let kind = partialOpcode, frame.fin, frame.opcode < 0x8 {
                let payload = partialPayload
                partialOpcode = nil
                partialPayload = []
                if kind == 0x1 {
                    guard let text = String(validating: payload, as: UTF8.self) else {
                        try await fail(1007, "a text message that is not UTF-8")
                    }
                    return .text(text)
                }
                return .binary(payload)
            }
        }
    }

    /// The close codes a peer may send (RFC 6455 §7.4; 1005, 1006 and 1015 never go on the wire).
    private static func isValidCloseCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }

    private struct Frame {
        let fin: Bool
        let opcode: UInt8
        let payload: [UInt8]
    }

    /// Exactly `count` bytes; the peer vanishing, even mid-frame, is the 1006 "abnormal closure".
    private func read(_ count: Int, timeout: Duration?) async throws -> [UInt8] {
        do {
            return try await reader.readExactly(count, timeout: timeout)
        } catch SocketError.unexpectedEOF {
            closeStatus = (1006, "the connection closed without a close frame")
            stream.close()
            throw WebSocketError.protocolError("the connection closed without a close frame")
        } catch let error as SocketError {
            closeStatus = (1006, "\(error)")  // reset, or closed under us
            stream.close()
            throw error
        }
    }

    private func readFrame(timeout: Duration?) async throws -> Frame {
        // Nothing is consumed until the frame's first two bytes are in: a timeout before that
        // leaves the connection as it was. After it, the frame must be read whole.
        let head = try await read(2, timeout: timeout)
        do {
            return try await readFrame(head: head, timeout: timeout)
        } catch let error as WebSocketError {
            throw error  // the connection is already closed with the right code
        } catch {
            // A timeout, a kill or a cancellation inside a frame: the rest of it is still on the
            // way, so the stream can no longer be read frame by frame.
            closeStatus = closeStatus ?? (1006, "interrupted in the middle of a frame: \(error)")
            stream.close()
            throw error
        }
    }

    private func readFrame(head: [UInt8], timeout: Duration?) async throws -> Frame {
        let fin = head[0] & 0x80 != 0
        let opcode = head[0] & 0x0F
        guard head[0] & 0x70 == 0 else { try await fail(1002, "reserved bits set") }
        let masked = head[1] & 0x80 != 0
        // Clients mask every frame; servers never do.
        guard masked != isClient else { try await fail(1002, isClient ? "a masked frame from the server" : "an unmasked frame from the client") }
        var length = UInt64(head[1] & 0x7F)
        if length == 126 {
            let bytes = try await read(2, timeout: timeout)
            length = UInt64(bytes[0]) << 8 | UInt64(bytes[1])
        } else if length == 127 {
            let bytes = try await read(8, timeout: timeout)
            length = bytes.reduce(0) { $0 << 8 | UInt64($1) }
        }
        if opcode >= 0x8 {
            guard fin, length <= 125 else { try await fail(1002, "a fragmented or oversized control frame") }
        }
        guard length <= UInt64(maxMessageBytes) else { try await fail(1009, nil, error: .messageTooLarge(limit: maxMessageBytes)) }
        let mask = masked ? try await read(4, timeout: timeout) : []
        var payload = try await read(Int(length), timeout: timeout)
        if masked { for index in payload.indices { payload[index] ^= mask[index % 4] } }
        return Frame(fin: fin, opcode: opcode, payload: payload)
    }

    /// Closes with `code` and throws: the peer broke the protocol.
    private func fail(_ code: UInt16, _ reason: String?, error: WebSocketError? = nil) async throws -> Never {
        let why = reason ?? "message too large"
        if !closeSent {
            closeSent = true
            try? await sendFrame(opcode: 0x8, payload: WebSocket.closePayload(code, why))
        }
        closeStatus = (code, why)
        stream.close()
        throw error ?? .protocolError(why)
    }

    // MARK: Sending

    /// Sends a text message.
    public func send(_ text: String) async throws { try await sendFrame(opcode: 0x1, payload: Array(text.utf8)) }

    /// Sends a binary message.
    public func send(_ bytes: [UInt8]) async throws { try await sendFrame(opcode: 0x2, payload: bytes) }

    /// Sends `message`, in frames of at most `fragmentSize` bytes if given (a fragmented
    /// message; no other message's frames come between them).
    public func send(_ message: Message, fragmentSize: Int? = nil) async throws {
        let (opcode, payload): (UInt8, [UInt8]) = switch message {
        case .text(let text): (0x1, Array(text.utf8))
        case .binary(let bytes): (0x2, bytes)
        }
        guard let size = fragmentSize, size > 0, payload.count > size else {
            return try await sendFrames(opcode: opcode, [payload[...]])
        }
        let pieces = stride(from: 0, to: payload.count, by: size).map { payload[$0..<min($0 + size, payload.count)] }
        try await sendFrames(opcode: opcode, pieces)
    }

    /// Sends a ping; the peer answers with a pong.
    public func ping(_ payload: [UInt8] = []) async throws { try await sendFrame(opcode: 0x9, payload: Array(payload.prefix(125))) }

    /// Starts the close handshake and waits (up to `timeout` in all) for the peer's close frame.
    /// A green thread already inside ``receive(timeout:)`` finishes its call first; messages that
    /// arrive after it are dropped, and later receives return nil.
    public func close(code: UInt16 = 1000, reason: String = "", timeout: Duration = .seconds(5)) async {
        _ = try? await withTimeout(timeout, orElse: ()) { [self] in
            if !closeSent {
                closeSent = true
                try? await sendFrame(opcode: 0x8, payload: WebSocket.closePayload(code, reason))
            }
            while closeStatus == nil { _ = try await receive() }
        }
        stream.close()
    }

    /// A close frame's payload: the code, then the reason cut to fit 125 bytes on a character.
    private static func closePayload(_ code: UInt16, _ reason: String) -> [UInt8] {
        var reason = Substring(reason)
        while reason.utf8.count > 123 { reason = reason.dropLast() }
        return [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
    }

    private func sendFrame(opcode: UInt8, payload: [UInt8]) async throws {
        try await sendFrames(opcode: opcode, [payload[...]])
    }

    /// Sends one message as frames, the first with `opcode`, the others as continuations.
    private func sendFrames(opcode: UInt8, _ pieces: [ArraySlice<UInt8>]) async throws {
        var bytes: [UInt8] = []
        for (index, piece) in pieces.enumerated() {
            bytes += frame(opcode: index == 0 ? opcode : 0x0, payload: piece, fin: index == pieces.count - 1)
        }
        try await sendLock.withLock {
            // After our close frame only a pong may follow; after the peer's, nothing.
            if opcode < 0x8 && closeSent || closeStatus != nil && opcode != 0x8 { throw WebSocketError.closed }
            do {
                try await stream.sendAll(bytes, timeout: sendTimeout)
            } catch {
                // Part of a frame may have gone out (a peer that stopped reading, a kill): the
                // stream cannot carry another one.
                closeStatus = closeStatus ?? (1006, "sending failed: \(error)")
                stream.close()
                throw error
            }
        }
    }

    /// One frame on the wire: masked when we are the client (RFC 6455 §5.2).
    private func frame(opcode: UInt8, payload: ArraySlice<UInt8>, fin: Bool) -> [UInt8] {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let maskBit: UInt8 = isClient ? 0x80 : 0
        if payload.count < 126 {
            frame.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            frame += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(maskBit | 127)
            frame += (0..<8).reversed().map { UInt8(UInt64(payload.count) >> (8 * UInt64($0)) & 0xFF) }
        }
        if isClient {
            let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
            frame += mask
            frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        } else {
            frame += payload
        }
        return frame
    }
}
