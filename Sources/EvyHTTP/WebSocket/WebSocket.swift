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
/// The bytes on the wire are ``WebSocketFrameDecoder``'s and ``WebSocketFrame``'s business; this
/// class adds the stream, the close handshake and the message assembly. Hub-confined.
public final class WebSocket: @unchecked Sendable {
    /// A message.
    public enum Message: Sendable, Equatable {
        /// A text message (valid UTF-8, checked on receipt).
        case text(String)
        /// A binary message.
        case binary([UInt8])
    }

    private let stream: any GreenStream
    private let reader: BufferedStream
    private let isClient: Bool
    /// The largest message accepted.
    public let maxMessageBytes: Int
    /// The close code and reason once the connection is over: the peer's close frame, the
    /// protocol failure we closed for, or 1006 for a connection that broke without a close frame.
    public var closeStatus: (code: UInt16, reason: String)? { lifecycle.closeStatus }
    private var lifecycle = WebSocketLifecycle()
    private var decoder: WebSocketFrameDecoder
    /// The message being received, kept across calls: a timeout between its fragments loses nothing.
    private var message: WebSocketMessageAssembly
    private let sendLock = Lock()
    /// How long sending one frame may take before the peer counts as gone (it stopped reading).
    public var sendTimeout: Duration? = .seconds(30)
    /// One reader at a time: frames of one message must not go to two green threads, and
    /// ``close(code:reason:timeout:)`` reads after whoever is reading.
    private let receiveLock = Lock()

    init(stream: any GreenStream, reader: BufferedStream, isClient: Bool, maxMessageBytes: Int) {
        self.stream = stream
        self.reader = reader
        self.isClient = isClient
        self.maxMessageBytes = maxMessageBytes
        decoder = WebSocketFrameDecoder(expectsMaskedFrames: !isClient, maxPayloadBytes: maxMessageBytes)
        message = WebSocketMessageAssembly(limit: maxMessageBytes)
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
            case .close:
                let status: (code: UInt16, reason: String)
                do { status = try WebSocketFrame.closeStatus(of: frame.payload) } catch { try await fail(error) }
                if lifecycle.peerClosed(code: status.code, reason: status.reason) {
                    try? await sendFrame(.close, payload: frame.payload.count >= 2 ? Array(frame.payload[..<2]) : [])
                }
                stream.close()
                return nil
            case .ping:
                try await sendFrame(.pong, payload: frame.payload)
            case .pong:
                break
            case .continuation, .text, .binary:
                let complete: Message?
                do { complete = try message.add(frame) } catch { try await fail(error) }
                if let complete { return complete }
            }
        }
    }

    /// Exactly `count` bytes; the peer vanishing, even mid-frame, is the 1006 "abnormal closure".
    private func read(_ count: Int, timeout: Duration?) async throws -> [UInt8] {
        do {
            return try await reader.readExactly(count, timeout: timeout)
        } catch SocketError.unexpectedEOF {
            lifecycle.broke("the connection closed without a close frame")
            stream.close()
            throw WebSocketError.protocolError("the connection closed without a close frame")
        } catch let error as SocketError {
            lifecycle.broke("\(error)")  // reset, or closed under us
            stream.close()
            throw error
        }
    }

    /// The next frame, read part by part as the decoder asks: never a byte past the frame.
    private func readFrame(timeout: Duration?) async throws -> WebSocketFrame {
        // Nothing is consumed until the frame's first two bytes (what the decoder needs first)
        // are in: a timeout before that leaves the connection as it was. After it, the frame must
        // be read whole.
        decoder.feed(try await read(decoder.bytesNeeded, timeout: timeout))
        do {
            while true {
                let frame: WebSocketFrame?
                do { frame = try decoder.next() } catch { try await fail(error) }
                if let frame { return frame }
                decoder.feed(try await read(decoder.bytesNeeded, timeout: timeout))
            }
        } catch let error as WebSocketError {
            throw error  // the connection is already closed with the right code
        } catch {
            // A timeout, a kill or a cancellation inside a frame: the rest of it is still on the
            // way, so the stream can no longer be read frame by frame.
            lifecycle.broke("interrupted in the middle of a frame: \(error)")
            stream.close()
            throw error
        }
    }

    /// Closes with the error's code and throws: the peer broke the protocol.
    private func fail(_ error: WebSocketProtocolError) async throws -> Never {
        if lifecycle.sendClose() {
            try? await sendFrame(
                .close, payload: WebSocketFrame.closePayload(code: error.closeCode, reason: error.description))
        }
        lifecycle.end(code: error.closeCode, reason: error.description)
        stream.close()
        if case .messageTooLarge(let limit) = error { throw WebSocketError.messageTooLarge(limit: limit) }
        throw WebSocketError.protocolError(error.description)
    }

    // MARK: Sending

    /// Sends a text message.
    public func send(_ text: String) async throws { try await sendFrame(.text, payload: Array(text.utf8)) }

    /// Sends a binary message.
    public func send(_ bytes: [UInt8]) async throws { try await sendFrame(.binary, payload: bytes) }

    /// Sends `message`, in frames of at most `fragmentSize` bytes if given (a fragmented
    /// message; no other message's frames come between them).
    public func send(_ message: Message, fragmentSize: Int? = nil) async throws {
        let (opcode, payload): (WebSocketOpcode, [UInt8]) =
            switch message {
            case .text(let text): (.text, Array(text.utf8))
            case .binary(let bytes): (.binary, bytes)
            }
        guard let size = fragmentSize, size > 0, payload.count > size else {
            return try await sendFrames(opcode, [payload[...]])
        }
        let pieces = stride(from: 0, to: payload.count, by: size).map { payload[$0..<min($0 + size, payload.count)] }
        try await sendFrames(opcode, pieces)
    }

    /// Sends a ping; the peer answers with a pong.
    public func ping(_ payload: [UInt8] = []) async throws {
        try await sendFrame(.ping, payload: Array(payload.prefix(125)))
    }

    /// Starts the close handshake and waits (up to `timeout` in all) for the peer's close frame.
    /// A green thread already inside ``receive(timeout:)`` finishes its call first; messages that
    /// arrive after it are dropped, and later receives return nil.
    public func close(code: UInt16 = 1000, reason: String = "", timeout: Duration = .seconds(5)) async {
        _ = try? await withTimeout(timeout, orElse: ()) { [self] in
            if lifecycle.sendClose() {
                try? await sendFrame(.close, payload: WebSocketFrame.closePayload(code: code, reason: reason))
            }
            while closeStatus == nil { _ = try await receive() }
        }
        stream.close()
    }

    private func sendFrame(_ opcode: WebSocketOpcode, payload: [UInt8]) async throws {
        try await sendFrames(opcode, [payload[...]])
    }

    /// Sends one message as frames, the first with `opcode`, the others as continuations; a
    /// client masks each with a fresh random key (RFC 6455 §5.3).
    private func sendFrames(_ opcode: WebSocketOpcode, _ pieces: [ArraySlice<UInt8>]) async throws {
        var bytes: [UInt8] = []
        for (index, piece) in pieces.enumerated() {
            WebSocketFrame.append(
                fin: index == pieces.count - 1, opcode: index == 0 ? opcode : .continuation, payload: piece,
                maskKey: isClient ? UInt32.random(in: .min ... .max) : nil, to: &bytes)
        }
        try await sendLock.withLock {
            // After our close frame only control frames may follow; after the peer's, only our answer.
            guard lifecycle.allowsSending(opcode) else { throw WebSocketError.closed }
            do {
                try await stream.sendAll(bytes, timeout: sendTimeout)
            } catch {
                // Part of a frame may have gone out (a peer that stopped reading, a kill): the
                // stream cannot carry another one.
                lifecycle.broke("sending failed: \(error)")
                stream.close()
                throw error
            }
        }
    }
}
