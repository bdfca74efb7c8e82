/// One WebSocket frame (RFC 6455 §5.2), unmasked: what ``WebSocketFrameDecoder`` yields and what
/// ``encode(maskKey:)`` puts on the wire. A plain value; encoding does no I/O and cannot fail.
public struct WebSocketFrame: Sendable, Equatable {
    /// The last frame of its message (always set on control frames).
    public var fin: Bool
    /// What the frame carries.
    public var opcode: WebSocketOpcode
    /// The payload, unmasked.
    public var payload: [UInt8]

    /// A frame; `fin` defaults to a message in one frame.
    public init(fin: Bool = true, opcode: WebSocketOpcode, payload: [UInt8] = []) {
        self.fin = fin
        self.opcode = opcode
        self.payload = payload
    }

    /// The frame on the wire: masked with `maskKey` (its four bytes in big-endian order) if given.
    /// A client must mask every frame with a fresh random key; a server never masks.
    public func encode(maskKey: UInt32? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        Self.append(fin: fin, opcode: opcode, payload: payload[...], maskKey: maskKey, to: &bytes)
        return bytes
    }

    /// Appends a frame to `bytes` (what ``encode(maskKey:)`` and the connection's sending do).
    static func append(
        fin: Bool, opcode: WebSocketOpcode, payload: ArraySlice<UInt8>, maskKey: UInt32?, to bytes: inout [UInt8]
    ) {
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        let count = payload.count
        bytes.reserveCapacity(bytes.count + 14 + count)
        bytes.append((fin ? 0x80 : 0) | opcode.rawValue)
        if count < 126 {
            bytes.append(maskBit | UInt8(count))
        } else if count <= 0xFFFF {
            bytes += [maskBit | 126, UInt8(count >> 8), UInt8(count & 0xFF)]
        } else {
            bytes.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) {
                bytes.append(UInt8(truncatingIfNeeded: UInt64(count) >> shift))
            }
        }
        guard let maskKey else {
            bytes += payload
            return
        }
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: maskKey >> shift)) }
        let start = bytes.count
        bytes += payload
        bytes.withUnsafeMutableBufferPointer { mask(UnsafeMutableBufferPointer(rebasing: $0[start...]), key: maskKey) }
    }

    /// XORs `bytes` with `key`, its first byte first (RFC 6455 §5.3); masking twice unmasks.
    static func mask(_ bytes: UnsafeMutableBufferPointer<UInt8>, key: UInt32) {
        for index in bytes.indices { bytes[index] ^= UInt8(truncatingIfNeeded: key >> (24 - 8 * UInt32(index & 3))) }
    }

    // MARK: Close frames

    /// A close frame's payload: the code, then `reason` cut on a character to fit 125 bytes.
    public static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        var reason = Substring(reason)
        while reason.utf8.count > 123 { reason = reason.dropLast() }
        return [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
    }

    /// The code and reason of a close frame's payload: 1005 ("no status") and "" for an empty one.
    /// Throws ``WebSocketProtocolError`` for a one-byte payload, a code a peer may not send, or a
    /// reason that is not UTF-8.
    public static func closeStatus(of payload: [UInt8]) throws(WebSocketProtocolError) -> (code: UInt16, reason: String)
    {
        if payload.isEmpty { return (1005, "") }
        guard payload.count >= 2 else { throw .oneByteClosePayload }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard isValidCloseCode(code) else { throw .invalidCloseCode(code) }
        guard let reason = String(validating: payload[2...], as: UTF8.self) else { throw .closeReasonNotUTF8 }
        return (code, reason)
    }

    /// The close codes a peer may send (RFC 6455 §7.4; 1005, 1006 and 1015 never go on the wire).
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
    }
}
