/// Reads WebSocket frames out of the bytes it is fed, however they are cut: no I/O, so a test or
/// a fuzzer drives it directly, and the connection feeds it from its stream.
///
/// ```swift
/// var decoder = WebSocketFrameDecoder(expectsMaskedFrames: true, maxPayloadBytes: 1 << 20)
/// decoder.feed(bytes)
/// while let frame = try decoder.next() { handle(frame) }
/// ```
/// Each part of a header is checked as soon as it is in, in the order of the wire: the reserved
/// bits and the masking rule with the first two bytes, a control frame's size and fragmentation
/// and the size limit with the length; the opcode once the whole frame is in. The first error is
/// final: ``next()`` throws it again from then on. A plain value: each copy decodes on its own.
public struct WebSocketFrameDecoder: Sendable {
    /// Whether frames must be masked: a server's decoder expects masked frames, a client's not.
    public let expectsMaskedFrames: Bool
    /// The largest payload a frame may announce.
    public let maxPayloadBytes: Int

    /// The bytes fed and not yet decoded, from `start`.
    private var buffer: [UInt8] = []
    private var start = 0
    /// The current frame's header, once all of it (and its mask key) was in and taken from the buffer.
    private var header: Header?
    private var failure: WebSocketProtocolError?

    private struct Header {
        let fin: Bool
        let opcode: UInt8
        let maskKey: UInt32?
        let length: Int
    }

    /// A decoder for the frames of one connection.
    public init(expectsMaskedFrames: Bool, maxPayloadBytes: Int) {
        self.expectsMaskedFrames = expectsMaskedFrames
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Adds bytes from the peer. Bytes fed into an empty decoder are kept as they are, not copied
    /// (a payload fed alone becomes the frame's payload).
    public mutating func feed(_ bytes: [UInt8]) {
        if start == buffer.count {
            buffer = bytes
        } else {
            buffer.removeSubrange(..<start)
            buffer += bytes
        }
        start = 0
    }

    /// How many more bytes ``next()`` needs before it can take its next step: finish the part of
    /// the header being read (the first two bytes, the extended length, the mask key) or the
    /// payload. 0 when it can take that step now (it has a frame, or an error, to give).
    public var bytesNeeded: Int {
        if let header { return max(0, header.length - available) }
        guard available >= 2 else { return 2 - available }
        let lengthEnd = 2 + Self.extendedLengthBytes(buffer[start + 1])
        guard available >= lengthEnd else { return lengthEnd - available }
        return max(0, lengthEnd + (buffer[start + 1] & 0x80 != 0 ? 4 : 0) - available)
    }

    /// The next complete frame, unmasked; nil until enough bytes are fed. Throws
    /// ``WebSocketProtocolError`` for a frame that breaks the protocol (and again on every call after).
    public mutating func next() throws(WebSocketProtocolError) -> WebSocketFrame? {
        if let failure { throw failure }
        do {
            return try decodeFrame()
        } catch {
            failure = error
            throw error
        }
    }

    private var available: Int { buffer.count - start }

    private static func extendedLengthBytes(_ second: UInt8) -> Int {
        switch second & 0x7F {
        case 126: 2
        case 127: 8
        default: 0
        }
    }

    private mutating func decodeFrame() throws(WebSocketProtocolError) -> WebSocketFrame? {
        if header == nil { header = try decodeHeader() }
        guard let header, available >= header.length else { return nil }
        self.header = nil
        var payload = take(header.length)
        if let key = header.maskKey { payload.withUnsafeMutableBufferPointer { WebSocketFrame.mask($0, key: key) } }
        guard let opcode = WebSocketOpcode(rawValue: header.opcode) else { throw .unknownOpcode(header.opcode) }
        return WebSocketFrame(fin: header.fin, opcode: opcode, payload: payload)
    }

    /// The header, taken from the buffer once it is all in; each part is checked as it arrives.
    private mutating func decodeHeader() throws(WebSocketProtocolError) -> Header? {
        guard available >= 2 else { return nil }
        let first = buffer[start]
        let second = buffer[start + 1]
        guard first & 0x70 == 0 else { throw .reservedBitsSet }
        let masked = second & 0x80 != 0
        guard masked == expectsMaskedFrames else { throw masked ? .maskedFrameFromServer : .unmaskedFrameFromClient }
        let lengthEnd = 2 + Self.extendedLengthBytes(second)
        guard available >= lengthEnd else { return nil }
        let length =
            lengthEnd == 2
            ? UInt64(second & 0x7F) : buffer[(start + 2)..<(start + lengthEnd)].reduce(0) { $0 << 8 | UInt64($1) }
        let fin = first & 0x80 != 0
        if first & 0x08 != 0 {  // a control frame
            guard fin, length <= 125 else { throw .invalidControlFrame }
        }
        guard length <= UInt64(maxPayloadBytes) else { throw .messageTooLarge(limit: maxPayloadBytes) }
        let headerEnd = lengthEnd + (masked ? 4 : 0)
        guard available >= headerEnd else { return nil }
        let maskKey =
            masked ? buffer[(start + lengthEnd)..<(start + headerEnd)].reduce(0) { $0 << 8 | UInt32($1) } : nil
        drop(headerEnd)
        return Header(fin: fin, opcode: first & 0x0F, maskKey: maskKey, length: Int(length))
    }

    /// The next `count` bytes; the buffer itself when it is exactly those (no copy).
    private mutating func take(_ count: Int) -> [UInt8] {
        if start == 0 && count == buffer.count {
            var bytes: [UInt8] = []
            swap(&bytes, &buffer)
            return bytes
        }
        let bytes = Array(buffer[start..<(start + count)])
        drop(count)
        return bytes
    }

    private mutating func drop(_ count: Int) {
        start += count
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
    }
}
