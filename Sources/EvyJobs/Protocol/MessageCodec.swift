/// Turns a ``Message`` into its ZeroMQ frames and back (docs/protocol.md): frame 0 the signature
/// `EVY1`, frame 1 the command byte, frame 2 the header (the fields, big-endian, strings and
/// arrays after a u32 length), frame 3 the payload of SUBMIT, JOB, RESULT, OUTCOME and ANSWER.
/// Pure functions on values: no I/O, no state, callable from any thread or task.
public enum MessageCodec {
    /// Frame 0 of every message: `EVY` and the protocol version, `1`.
    public static let signature: [UInt8] = Array("EVY1".utf8)
    /// The largest header frame ``decode(_:)`` reads; a bigger one is ``ErrorCode/tooLarge``.
    /// Payload limits are the receiving role's to enforce.
    public static let maxHeaderBytes = 65_536
    /// The most job ids (or completions) one list message carries (WAIT, DONE, DONE-ACK,
    /// RECORDED): 13 bytes each at most, so such a header stays under ``maxHeaderBytes``. Senders
    /// split longer lists into several messages.
    public static let maxListCount = 4096

    /// The frames of `message`, without a routing envelope: `[signature, [command], header]`, and
    /// the payload as a fourth frame for the messages that have one. Never fails; it does not check
    /// limits, so a header over ``maxHeaderBytes`` (strings or arrays of about 64 KiB) is sent and
    /// refused by the peer.
    public static func encode(_ message: Message) -> [[UInt8]] {
        var size = HeaderSize()
        size.fields(of: message)
        var header = HeaderBytes(capacity: size.count)
        header.fields(of: message)
        let payload = message.payload
        var frames: [[UInt8]] = []
        frames.reserveCapacity(payload == nil ? 3 : 4)
        frames.append(signature)
        frames.append(commandFrames[Int(message.command.rawValue)])
        frames.append(header.bytes)
        if let payload { frames.append(payload) }
        return frames
    }

    /// The message these frames carry (the frames after any ZeroMQ routing envelope). Throws
    /// ``ProtocolError`` with ``ErrorCode/unsupportedVersion`` for another `EVY` version,
    /// ``ErrorCode/tooLarge`` for a header over ``maxHeaderBytes``, and ``ErrorCode/malformed`` for
    /// anything else it cannot read: a wrong signature, an unknown command, a missing or extra frame,
    /// a truncated header or bytes after its last field, a bool other than 0 or 1, an unknown enum
    /// value, invalid UTF-8. Reads the header in place; only strings and arrays allocate.
    public static func decode(_ frames: [[UInt8]]) throws(ProtocolError) -> Message {
        let command = try command(of: frames)
        guard frames.count == (command.hasPayload ? 4 : 3) else {
            throw .malformed("\(command.name) has \(command.hasPayload ? 4 : 3) frames, not \(frames.count)")
        }
        let header = frames[2]
        guard header.count <= maxHeaderBytes else {
            throw ProtocolError(code: .tooLarge, reason: "header of \(header.count) bytes, over \(maxHeaderBytes)")
        }
        let payload = command.hasPayload ? frames[3] : []
        return try header.withUnsafeBytes { bytes in
            Result { () throws(ProtocolError) -> Message in
                var reader = HeaderReader(bytes)
                let message = try reader.message(command, payload: payload)
                try reader.end()
                return message
            }
        }.get()
    }

    /// The request id of a message that could not be decoded, if its header got that far (so the
    /// ERROR reply can name it): the first u64 of the header of a known command whose first field is
    /// the request; else 0. Never fails.
    public static func requestID(ofUndecodable frames: [[UInt8]]) -> UInt64 {
        guard frames.count >= 3, frames[0] == signature, frames[1].count == 1,
            let command = Command(rawValue: frames[1][0]), command.startsWithRequest, frames[2].count >= 8
        else { return 0 }
        return frames[2].withUnsafeBytes { UInt64(bigEndian: $0.loadUnaligned(as: UInt64.self)) }
    }

    // MARK: Frames 0 and 1

    /// One shared single-byte array per command value, so that encoding allocates no command frame.
    private static let commandFrames: [[UInt8]] = (0...0x7F).map { [UInt8($0)] }

    /// Checks the signature and reads the command byte.
    private static func command(of frames: [[UInt8]]) throws(ProtocolError) -> Command {
        guard let first = frames.first else { throw .malformed("no frames") }
        if first != signature {
            if first.count == 4, first.starts(with: signature.prefix(3)), (0x30...0x39).contains(first[3]) {
                throw ProtocolError(code: .unsupportedVersion, reason: "version \(first[3] - 0x30), not 1")
            }
            throw .malformed("bad signature")
        }
        guard frames.count >= 2 else { throw .malformed("no command frame") }
        guard frames[1].count == 1 else { throw .malformed("command frame of \(frames[1].count) bytes") }
        guard let command = Command(rawValue: frames[1][0]) else {
            throw .malformed("unknown command 0x" + String(frames[1][0], radix: 16, uppercase: true))
        }
        return command
    }
}
