import EvyHTTP
import XCTest

/// The frame codec alone, no stream: encoding, decoding however the bytes are cut, every
/// protocol error the decoder finds, close payloads.
final class WebSocketCodecTests: XCTestCase {
    private let hello = Array("Hello".utf8)
    /// The mask key of RFC 6455's examples (37 fa 21 3d).
    private let rfcKey: UInt32 = 0x37FA_213D

    /// Every frame in `bytes`, fed whole; the error, if any, ends the list.
    private func decodeAll(_ bytes: [UInt8], masked: Bool, limit: Int = 1 << 20, piece: Int? = nil) -> [String] {
        var decoder = WebSocketFrameDecoder(expectsMaskedFrames: masked, maxPayloadBytes: limit)
        var out: [String] = []
        let size = piece ?? max(1, bytes.count)
        for start in stride(from: 0, to: max(1, bytes.count), by: size) {
            decoder.feed(Array(bytes[start..<min(start + size, bytes.count)]))
            do {
                while let frame = try decoder.next() { out.append("\(frame.fin) \(frame.opcode) \(frame.payload)") }
            } catch {
                return out + ["error \(error)"]
            }
        }
        return out
    }

    private func decodeError(_ bytes: [UInt8], masked: Bool = true, limit: Int = 1 << 20) -> WebSocketProtocolError? {
        var decoder = WebSocketFrameDecoder(expectsMaskedFrames: masked, maxPayloadBytes: limit)
        decoder.feed(bytes)
        do {
            while try decoder.next() != nil {}
            return nil
        } catch {
            return error
        }
    }

    // MARK: Encoding (RFC 6455 §5.7)

    func testGoldenFramesFromTheRFC() {
        XCTAssertEqual(
            WebSocketFrame(opcode: .text, payload: hello).encode(), [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        XCTAssertEqual(
            WebSocketFrame(opcode: .text, payload: hello).encode(maskKey: rfcKey),
            [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        XCTAssertEqual(
            WebSocketFrame(fin: false, opcode: .text, payload: Array("Hel".utf8)).encode(),
            [0x01, 0x03, 0x48, 0x65, 0x6C])
        XCTAssertEqual(
            WebSocketFrame(opcode: .continuation, payload: Array("lo".utf8)).encode(), [0x80, 0x02, 0x6C, 0x6F])
        XCTAssertEqual(
            WebSocketFrame(opcode: .ping, payload: hello).encode(), [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        XCTAssertEqual(
            WebSocketFrame(opcode: .pong, payload: hello).encode(maskKey: rfcKey),
            [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        let kilo = [UInt8](repeating: 0xAB, count: 256)
        XCTAssertEqual(WebSocketFrame(opcode: .binary, payload: kilo).encode(), [0x82, 0x7E, 0x01, 0x00] + kilo)
        let big = [UInt8]((0..<65536).map { UInt8($0 & 0xFF) })
        XCTAssertEqual(
            WebSocketFrame(opcode: .binary, payload: big).encode(),
            [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00] + big)
        XCTAssertEqual(WebSocketFrame(opcode: .close).encode(), [0x88, 0x00])
    }

    func testLengthEncodingBoundaries() {
        for (count, header) in [
            (125, [0x82, 125]), (126, [0x82, 126, 0, 126]), (65535, [0x82, 126, 0xFF, 0xFF]),
            (65536, [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]),
        ] as [(Int, [UInt8])] {
            let bytes = WebSocketFrame(opcode: .binary, payload: [UInt8](repeating: 1, count: count)).encode()
            XCTAssertEqual(Array(bytes.prefix(header.count)), header, "\(count)")
            XCTAssertEqual(bytes.count, header.count + count)
        }
    }

    func testOpcodes() {
        XCTAssertEqual(WebSocketOpcode.allCases.filter(\.isControl), [.close, .ping, .pong])
        XCTAssertEqual(WebSocketOpcode.allCases.map(\.rawValue), [0x0, 0x1, 0x2, 0x8, 0x9, 0xA])
    }

    // MARK: Decoding

    func testDecodesTheGoldenFramesBack() throws {
        var server = WebSocketFrameDecoder(expectsMaskedFrames: true, maxPayloadBytes: 1 << 20)
        server.feed([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        XCTAssertEqual(try server.next(), WebSocketFrame(opcode: .text, payload: hello))
        XCTAssertNil(try server.next())
        var client = WebSocketFrameDecoder(expectsMaskedFrames: false, maxPayloadBytes: 1 << 20)
        let big = [UInt8]((0..<65536).map { UInt8($0 % 251) })
        client.feed(
            [0x01, 0x03, 0x48, 0x65, 0x6C, 0x89, 0x00] + WebSocketFrame(opcode: .binary, payload: big).encode())
        XCTAssertEqual(try client.next(), WebSocketFrame(fin: false, opcode: .text, payload: Array("Hel".utf8)))
        XCTAssertEqual(try client.next(), WebSocketFrame(opcode: .ping))
        XCTAssertEqual(try client.next(), WebSocketFrame(opcode: .binary, payload: big))
        XCTAssertNil(try client.next())
    }

    /// A stream of frames of every length class, masked, decodes the same in pieces of every size.
    func testDecodingInPiecesOfEverySizeEqualsDecodingWhole() {
        let frames = [
            WebSocketFrame(opcode: .text, payload: []),
            WebSocketFrame(fin: false, opcode: .binary, payload: [1, 2, 3]),
            WebSocketFrame(opcode: .ping, payload: [UInt8](repeating: 9, count: 125)),
            WebSocketFrame(opcode: .continuation, payload: [UInt8](repeating: 7, count: 126)),
            WebSocketFrame(opcode: .binary, payload: [UInt8]((0..<300).map { UInt8($0 & 0xFF) })),
            WebSocketFrame(opcode: .close, payload: [0x03, 0xE8]),
        ]
        let bytes = frames.enumerated().flatMap { $0.element.encode(maskKey: UInt32($0.offset) &* 0x9E37_79B9) }
        let whole = decodeAll(bytes, masked: true)
        XCTAssertEqual(whole, frames.map { "\($0.fin) \($0.opcode) \($0.payload)" })
        for piece in 1...bytes.count {
            XCTAssertEqual(decodeAll(bytes, masked: true, piece: piece), whole, "pieces of \(piece)")
        }
        // With an error at the end: the same frames, then the same error.
        let broken = bytes + [0xC1, 0x80]
        for piece in [1, 2, 3, 7, 64, broken.count] {
            XCTAssertEqual(decodeAll(broken, masked: true, piece: piece), whole + ["error reserved bits set"])
        }
    }

    func testLargeFramesInPieces() {
        let big = WebSocketFrame(opcode: .binary, payload: [UInt8]((0..<70_000).map { UInt8($0 % 253) }))
        let bytes = big.encode(maskKey: rfcKey)
        let whole = decodeAll(bytes, masked: true)
        XCTAssertEqual(whole.count, 1)
        for piece in [1, 2, 9, 10, 14, 1000, 65536] {
            XCTAssertEqual(decodeAll(bytes, masked: true, piece: piece), whole)
        }
    }

    /// Fed exactly what it asks for, the decoder never needs a byte past the frame, and asks for
    /// the header in the wire's parts: 2 bytes, the extended length, the mask key, the payload.
    func testBytesNeededAsksForEachPartOfTheFrame() throws {
        let payload = [UInt8](repeating: 5, count: 300)
        let bytes = WebSocketFrame(opcode: .binary, payload: payload).encode(maskKey: rfcKey)
        var decoder = WebSocketFrameDecoder(expectsMaskedFrames: true, maxPayloadBytes: 1 << 20)
        var asked: [Int] = []
        var offset = 0
        while try decoder.next() == nil {
            let count = decoder.bytesNeeded
            asked.append(count)
            decoder.feed(Array(bytes[offset..<(offset + count)]))
            offset += count
        }
        XCTAssertEqual(asked, [2, 2, 4, 300])
        XCTAssertEqual(offset, bytes.count)
        XCTAssertEqual(decoder.bytesNeeded, 2, "the next frame starts with its first two bytes")
    }

    /// A peer may spend more length bytes than needed (RFC 6455 says minimal, the decoder does not insist).
    func testANonMinimalLengthIsAccepted() throws {
        var decoder = WebSocketFrameDecoder(expectsMaskedFrames: false, maxPayloadBytes: 100)
        decoder.feed([0x89, 126, 0, 2, 7, 8])
        XCTAssertEqual(try decoder.next(), WebSocketFrame(opcode: .ping, payload: [7, 8]))
    }

    // MARK: Protocol errors

    func testEveryProtocolErrorOfTheDecoder() {
        XCTAssertEqual(decodeError([0xC1, 0x80]), .reservedBitsSet)
        XCTAssertEqual(decodeError([0x91, 0x80]), .reservedBitsSet)
        XCTAssertEqual(
            decodeError([0xA1, 0x00], masked: false), .reservedBitsSet, "reserved bits come before the mask")
        XCTAssertEqual(decodeError([0x81, 0x02, 0x68, 0x69]), .unmaskedFrameFromClient)
        XCTAssertEqual(decodeError([0x81, 0x80, 1, 2, 3, 4], masked: false), .maskedFrameFromServer)
        XCTAssertEqual(decodeError([0x09, 0x80, 1, 2, 3, 4]), .invalidControlFrame, "a fragmented ping")
        XCTAssertEqual(decodeError([0x88, 0xFE, 0x00, 0x7E]), .invalidControlFrame, "126 bytes of close")
        XCTAssertEqual(
            decodeError([0x8B, 0xFE, 0x00, 0x7E]), .invalidControlFrame,
            "a reserved control opcode is still a control frame")
        XCTAssertEqual(decodeError([0x82, 0x8B], limit: 10), .messageTooLarge(limit: 10))
        XCTAssertEqual(
            decodeError([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]), .messageTooLarge(limit: 1 << 20), "2^63 bytes")
        XCTAssertNil(decodeError([0x82, 0x8A], limit: 10), "at the limit: waits for the rest")
        XCTAssertEqual(decodeError([0x83, 0x81, 1, 2, 3, 4, 5]), .unknownOpcode(3))
        XCTAssertEqual(decodeError([0x8F, 0x80, 1, 2, 3, 4]), .unknownOpcode(15))
    }

    /// Each check is made once its part of the header is in, no later: an oversized frame is
    /// refused before its mask key, an unknown opcode only once the whole frame is in.
    func testErrorsAreFoundAsSoonAsTheirPartIsIn() throws {
        var decoder = WebSocketFrameDecoder(expectsMaskedFrames: true, maxPayloadBytes: 10)
        decoder.feed([0x82, 0xFE])
        XCTAssertNil(try decoder.next())
        decoder.feed([0x00])
        XCTAssertNil(try decoder.next())
        decoder.feed([0x0B])
        XCTAssertThrowsError(try decoder.next()) {
            XCTAssertEqual($0 as? WebSocketProtocolError, .messageTooLarge(limit: 10))
        }
        XCTAssertThrowsError(try decoder.next(), "the error is final") {
            XCTAssertEqual($0 as? WebSocketProtocolError, .messageTooLarge(limit: 10))
        }
        var unknown = WebSocketFrameDecoder(expectsMaskedFrames: true, maxPayloadBytes: 10)
        unknown.feed([0x83, 0x82, 1, 2, 3, 4, 5])
        XCTAssertNil(try unknown.next(), "half the payload: not judged yet")
        unknown.feed([6])
        XCTAssertThrowsError(try unknown.next()) { XCTAssertEqual($0 as? WebSocketProtocolError, .unknownOpcode(3)) }
    }

    func testCloseCodesOfTheErrors() {
        let errors: [(WebSocketProtocolError, UInt16)] = [
            (.reservedBitsSet, 1002), (.maskedFrameFromServer, 1002), (.unmaskedFrameFromClient, 1002),
            (.invalidControlFrame, 1002), (.unknownOpcode(3), 1002), (.messageTooLarge(limit: 1), 1009),
            (.newMessageInsideFragmentedOne, 1002), (.continuationWithoutMessage, 1002), (.textNotUTF8, 1007),
            (.oneByteClosePayload, 1002), (.invalidCloseCode(1005), 1002), (.closeReasonNotUTF8, 1007),
        ]
        for (error, code) in errors { XCTAssertEqual(error.closeCode, code, "\(error)") }
    }

    // MARK: Close payloads

    func testClosePayloads() throws {
        XCTAssertEqual(WebSocketFrame.closePayload(code: 1000, reason: "bye"), [0x03, 0xE8] + Array("bye".utf8))
        let long = WebSocketFrame.closePayload(code: 1001, reason: String(repeating: "é", count: 100))
        XCTAssertEqual(long.count, 124, "cut on a character to fit 125 bytes")
        XCTAssertEqual(try WebSocketFrame.closeStatus(of: long).reason, String(repeating: "é", count: 61))
        XCTAssertTrue(try WebSocketFrame.closeStatus(of: []) == (1005, ""))
        XCTAssertTrue(try WebSocketFrame.closeStatus(of: [0x0F, 0xA0, 0x68]) == (4000, "h"))
        func error(_ payload: [UInt8]) -> WebSocketProtocolError? {
            do {
                _ = try WebSocketFrame.closeStatus(of: payload)
                return nil
            } catch { return error }
        }
        XCTAssertEqual(error([0x03]), .oneByteClosePayload)
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            XCTAssertEqual(error([UInt8(code >> 8), UInt8(code & 0xFF)]), .invalidCloseCode(code))
        }
        XCTAssertEqual(error([0x03, 0xE8, 0xFF]), .closeReasonNotUTF8)
    }
}
