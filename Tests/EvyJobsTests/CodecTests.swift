import Foundation
import XCTest

@testable import EvyJobs

final class CodecTests: XCTestCase {
    // MARK: Round trips and golden files

    func testEveryCommandHasOneSample() {
        XCTAssertEqual(CodecSamples.all.map(\.command.rawValue), Command.allCases.map(\.rawValue))
    }

    func testEveryMessageRoundTrips() throws {
        for message in CodecSamples.all {
            let frames = MessageCodec.encode(message)
            XCTAssertEqual(frames.count, message.command.hasPayload ? 4 : 3, "\(message)")
            XCTAssertEqual(frames[0], Array("EVY1".utf8))
            XCTAssertEqual(frames[1], [message.command.rawValue])
            XCTAssertEqual(try MessageCodec.decode(frames), message)
        }
    }

    func testDefaultOptionsRoundTrip() throws {
        let message = Message.submit(request: 0, handler: "", options: JobOptions(), payload: [])
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(message)), message)
    }

    func testHeartbeatAndDrainHaveAnEmptyHeader() {
        XCTAssertEqual(MessageCodec.encode(.heartbeat), [Array("EVY1".utf8), [0x18], []])
        XCTAssertEqual(MessageCodec.encode(.drain), [Array("EVY1".utf8), [0x17], []])
    }

    func testFieldsAreBigEndianInCaseOrder() {
        let frames = MessageCodec.encode(.failed(Lease(job: 0x0102, attempt: 3), retryable: true, error: "é"))
        XCTAssertEqual(frames[2], [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 3, 1, 0, 0, 0, 2, 0xC3, 0xA9])
    }

    /// Encodes every sample and compares with its golden file byte for byte, then decodes the file.
    /// EVY_WRITE_FIXTURES=1 writes the files instead (into the source tree).
    func testGoldenFiles() throws {
        let writing = ProcessInfo.processInfo.environment["EVY_WRITE_FIXTURES"] == "1"
        for message in CodecSamples.all {
            let name = message.command.name
            let bytes = FixtureFile.bytes(of: MessageCodec.encode(message))
            if writing {
                try FixtureFile.write(bytes, name: name)
                continue
            }
            let file = try FixtureFile.load(name)
            XCTAssertEqual(bytes, file, "\(name).bin differs from the encoding of \(message)")
            let frames = try XCTUnwrap(FixtureFile.frames(of: file), name)
            XCTAssertEqual(try MessageCodec.decode(frames), message, name)
        }
    }

    // MARK: Errors

    private func assertRefused(
        _ frames: [[UInt8]], _ code: ErrorCode, _ reason: String? = nil, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        do {
            let message = try MessageCodec.decode(frames)
            XCTFail("decoded \(message)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            if let reason { XCTAssertTrue(error.reason.hasPrefix(reason), "\(error)", file: file, line: line) }
        }
    }

    /// The frames of `message` with its header replaced.
    private func frames(_ message: Message, header: [UInt8]) -> [[UInt8]] {
        var frames = MessageCodec.encode(message)
        frames[2] = header
        return frames
    }

    func testWrongSignature() {
        for signature in [
            [], Array("EVY".utf8), Array("EVY10".utf8), Array("evy1".utf8), Array("ZWS1".utf8),
            Array("EVYx".utf8),
        ] {
            var frames = MessageCodec.encode(.heartbeat)
            frames[0] = signature
            assertRefused(frames, .malformed, "bad signature")
        }
        assertRefused([], .malformed, "no frames")
    }

    func testOtherVersion() {
        var frames = MessageCodec.encode(.heartbeat)
        frames[0] = Array("EVY2".utf8)
        assertRefused(frames, .unsupportedVersion, "version 2")
        frames[0] = Array("EVY0".utf8)
        assertRefused(frames, .unsupportedVersion)
    }

    func testUnknownOrMissingCommand() {
        var frames = MessageCodec.encode(.heartbeat)
        frames[1] = [0x42]
        assertRefused(frames, .malformed, "unknown command 0x42")
        frames[1] = [0x18, 0x18]
        assertRefused(frames, .malformed, "command frame of 2 bytes")
        frames[1] = []
        assertRefused(frames, .malformed, "command frame of 0 bytes")
        assertRefused([MessageCodec.signature], .malformed, "no command frame")
    }

    func testTruncatedAtEveryByte() {
        for message in CodecSamples.all {
            let header = MessageCodec.encode(message)[2]
            for length in 0..<header.count {
                assertRefused(frames(message, header: Array(header.prefix(length))), .malformed, "truncated header")
            }
        }
    }

    func testTrailingBytes() {
        for message in CodecSamples.all {
            let header = MessageCodec.encode(message)[2]
            assertRefused(frames(message, header: header + [0]), .malformed, "1 bytes after")
        }
    }

    func testBadBool() {
        let header = MessageCodec.encode(.submitted(request: 1, job: 2, duplicate: false))[2]
        assertRefused(
            frames(.submitted(request: 1, job: 2, duplicate: false), header: header.dropLast() + [2]),
            .malformed, "bad bool 2")
    }

    func testBadEnumRawValues() {
        let cancelled = Message.cancelled(request: 1, job: 2, outcome: .removed)
        assertRefused(
            frames(cancelled, header: MessageCodec.encode(cancelled)[2].dropLast() + [9]), .malformed,
            "bad CancelOutcome value 9")
        let error = Message.error(request: 1, code: .busy, reason: "")
        var header = MessageCodec.encode(error)[2]
        header[8...9] = [0x03, 0xE7]  // 999
        assertRefused(frames(error, header: header), .malformed, "bad ErrorCode value 999")
        let ready = CodecSamples.all.first { $0.command == .ready }!
        header = MessageCodec.encode(ready)[2]
        header[0] = 0
        assertRefused(frames(ready, header: header), .malformed, "bad PeerRole value 0")
        let done = Message.done([Completion(lease: Lease(job: 1, attempt: 1), status: .failed)])
        assertRefused(
            frames(done, header: MessageCodec.encode(done)[2].dropLast() + [4]), .malformed,
            "bad JobStatus value 4")
    }

    func testFailedCarriesRetryAfterOnlyWhenItIsNotZero() throws {
        let plain = Message.failed(Lease(job: 1, attempt: 1), retryable: true, error: "ab")
        let later = Message.failed(Lease(job: 1, attempt: 1), retryable: true, error: "ab", retryAfterMilliseconds: 0x0102_0304)
        XCTAssertEqual(MessageCodec.encode(later)[2], MessageCodec.encode(plain)[2] + [1, 2, 3, 4], "a trailing u32")
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(later)), later)
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(plain)), plain, "absent: 0")
        assertRefused(
            frames(plain, header: MessageCodec.encode(plain)[2] + [0, 1]), .malformed, "2 bytes after the header's last field")
        assertRefused(
            frames(plain, header: MessageCodec.encode(plain)[2] + [0, 0, 0, 0]), .malformed, "retry-after-ms 0 is written")
    }

    func testLeaseTokensAndTheCollectorsKeyAreOptionalTrailingFields() throws {
        let lease = Lease(job: 7, attempt: 2)
        let plain = Message.job(lease, handler: "h", timeoutMilliseconds: 0, payload: [])
        let given = Message.job(lease, handler: "h", timeoutMilliseconds: 0, payload: [], token: 0x0102_0304_0506_0708)
        XCTAssertEqual(MessageCodec.encode(given)[2], MessageCodec.encode(plain)[2] + [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(given)), given)
        let result = Message.result(lease, handler: "h", status: .succeeded, durationMicroseconds: 1, payload: [], token: 9)
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(result)), result)
        let welcome = Message.welcome(heartbeatMilliseconds: 1000, liveness: 3, leaseKey: Array(0..<16))
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(welcome)), welcome)
        assertRefused(
            frames(plain, header: MessageCodec.encode(plain)[2] + [UInt8](repeating: 0, count: 8)), .malformed,
            "token 0 is written")
        let bare = Message.welcome(heartbeatMilliseconds: 1000, liveness: 3)
        assertRefused(frames(bare, header: MessageCodec.encode(bare)[2] + [1, 2, 3]), .malformed, "3 bytes after")
    }

    func testLeaseTokensAreSipHash24OfTheLease() {
        // The reference vector of SipHash-2-4 (key 00..0f, message 00..0e).
        XCTAssertEqual(LeaseKey.sipHash24(Array(0..<15), key: Array(0..<16)), 0xa129_ca61_49be_45e5)
        let key = LeaseKey(bytes: Array(0..<16))!
        XCTAssertNotEqual(key.token(for: Lease(job: 1, attempt: 1)), key.token(for: Lease(job: 1, attempt: 2)))
        XCTAssertNotEqual(key.token(for: Lease(job: 1, attempt: 1)), LeaseKey.random().token(for: Lease(job: 1, attempt: 1)))
        XCTAssertNil(LeaseKey(bytes: [1, 2, 3]))
    }

    func testInvalidUTF8() {
        let failed = Message.failed(Lease(job: 1, attempt: 1), retryable: true, error: "ab")
        let header = MessageCodec.encode(failed)[2].dropLast(2)
        assertRefused(frames(failed, header: header + [0xC3, 0x28]), .malformed, "invalid UTF-8")
        assertRefused(frames(failed, header: header + [0xED, 0xA0]), .malformed, "invalid UTF-8")  // half a surrogate
    }

    func testHugeCountsAreRefusedBeforeAllocating() {
        let wait = Message.wait(request: 1, jobs: [])
        assertRefused(
            frames(wait, header: MessageCodec.encode(wait)[2].dropLast(4) + [0xFF, 0xFF, 0xFF, 0xFF]),
            .malformed, "truncated header: count 4294967295")
        let recorded = Message.recorded(jobs: [])
        assertRefused(
            frames(recorded, header: [0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 64)),
            .malformed, "truncated header")
        let failed = Message.failed(Lease(job: 1, attempt: 1), retryable: true, error: "")
        assertRefused(
            frames(failed, header: MessageCodec.encode(failed)[2].dropLast(4) + [0xFF, 0xFF, 0xFF, 0xF0]),
            .malformed, "truncated header")
    }

    func testHeaderOverTheLimit() {
        let recorded = Message.recorded(jobs: Array(repeating: 1, count: MessageCodec.maxHeaderBytes / 8))
        let frames = MessageCodec.encode(recorded)
        XCTAssertEqual(frames[2].count, MessageCodec.maxHeaderBytes + 4)
        assertRefused(frames, .tooLarge)
        let fits = Message.recorded(jobs: Array(repeating: 1, count: MessageCodec.maxHeaderBytes / 8 - 1))
        XCTAssertEqual(try MessageCodec.decode(MessageCodec.encode(fits)), fits)
    }

    func testMissingOrExtraFrames() {
        for message in CodecSamples.all {
            let frames = MessageCodec.encode(message)
            assertRefused(Array(frames.dropLast()), .malformed, nil)
            assertRefused(frames + [[]], .malformed, "\(message.command.name) has")
        }
    }

    // MARK: Request ids of what could not be decoded

    func testRequestIDOfUndecodable() {
        var frames = MessageCodec.encode(.cancel(request: 0x0102_0304_0506_0708, job: 1))
        frames[2].append(0)
        XCTAssertEqual(MessageCodec.requestID(ofUndecodable: frames), 0x0102_0304_0506_0708)
        frames[2] = Array(frames[2].prefix(7))
        XCTAssertEqual(MessageCodec.requestID(ofUndecodable: frames), 0, "header too short")
        XCTAssertEqual(MessageCodec.requestID(ofUndecodable: MessageCodec.encode(.abort(job: 5))), 0, "no request")
        frames = MessageCodec.encode(.cancel(request: 9, job: 1))
        frames[0] = Array("EVY2".utf8)
        XCTAssertEqual(MessageCodec.requestID(ofUndecodable: frames), 0, "another version")
        XCTAssertEqual(MessageCodec.requestID(ofUndecodable: []), 0)
    }

    func testErrorDescription() {
        XCTAssertEqual(
            ProtocolError(code: .malformed, reason: "truncated header").description, "truncated header (400)")
    }
}

/// The worked example of docs/protocol.md, byte for byte.
final class ProtocolDocumentTests: XCTestCase {
    private func hex(_ text: String) -> [UInt8] {
        let digits = Array(text.filter(\.isHexDigit))
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    func testWorkedExample() throws {
        let submit = Message.submit(request: 1, handler: "echo", options: JobOptions(), payload: Array("hi".utf8))
        let header = hex(
            "0000000000000001 00000004 6563686f 00 0000000000000000 ff 00000000 00000000 00000000 0000 00000000")
        XCTAssertEqual(header.count, 44)
        XCTAssertEqual(MessageCodec.encode(submit), [hex("45565931"), [0x01], header, hex("6869")])
        XCTAssertEqual(
            MessageCodec.encode(.submitted(request: 1, job: 42, duplicate: false))[2],
            hex("0000000000000001 000000000000002a 00"))
        let ready = Ready(
            role: .worker, name: "w1", host: "host", pid: 77, slots: 4, heartbeatMilliseconds: 1000,
            handlers: ["echo"], held: [])
        XCTAssertEqual(
            MessageCodec.encode(.ready(ready))[2],
            hex("01 00000002 7731 00000004 686f7374 0000004d 00000004 000003e8 00000001 00000004 6563686f 00000000"))
        XCTAssertEqual(MessageCodec.encode(.welcome(heartbeatMilliseconds: 1000, liveness: 3))[2], hex("000003e8 03"))
        XCTAssertEqual(
            MessageCodec.encode(
                .job(
                    Lease(job: 42, attempt: 1), handler: "echo", timeoutMilliseconds: 0,
                    payload: Array("hi".utf8))),
            [hex("45565931"), [0x12], hex("000000000000002a 00000001 00000004 6563686f 00000000"), hex("6869")])
        XCTAssertEqual(
            MessageCodec.encode(
                .result(
                    Lease(job: 42, attempt: 1), handler: "echo", status: .succeeded,
                    durationMicroseconds: 1500, payload: []))[2],
            hex("000000000000002a 00000001 00000004 6563686f 00 00000000000005dc"))
        XCTAssertEqual(MessageCodec.encode(.credit(slots: 1))[2], hex("00000001"))
    }
}
