import Evy
import EvyTestSupport
import XCTest

@testable import EvyHTTP

/// The connection's parts without sockets: its lifecycle's moves, the message assembly, and a
/// connection over an in-memory stream.
final class WebSocketLifecycleTests: XCTestCase {
    // MARK: Lifecycle

    func testTheCloseHandshakeWeStart() {
        var life = WebSocketLifecycle()
        XCTAssertTrue(WebSocketOpcode.allCases.allSatisfy(life.allowsSending))
        XCTAssertTrue(life.sendClose())
        XCTAssertFalse(life.sendClose(), "one close frame")
        XCTAssertEqual(life.state, .closeSent)
        XCTAssertEqual(
            WebSocketOpcode.allCases.filter(life.allowsSending), [.close, .ping, .pong], "no messages after our close")
        XCTAssertNil(life.closeStatus)
        XCTAssertFalse(life.peerClosed(code: 1000, reason: "bye"), "their close answers ours")
        XCTAssertEqual(life.state, .closed(code: 1000, reason: "bye"))
        XCTAssertEqual(WebSocketOpcode.allCases.filter(life.allowsSending), [.close])
        XCTAssertFalse(life.sendClose())
    }

    func testTheCloseHandshakeThePeerStarts() {
        var life = WebSocketLifecycle()
        XCTAssertTrue(life.peerClosed(code: 1001, reason: ""), "we owe an answer")
        XCTAssertEqual(life.closeStatus?.code, 1001)
        XCTAssertEqual(WebSocketOpcode.allCases.filter(life.allowsSending), [.close], "only the answer")
        XCTAssertFalse(life.sendClose())
    }

    func testAStatusIsFinalExceptABrokenConnection() {
        var life = WebSocketLifecycle()
        life.broke("sending failed")
        XCTAssertEqual(life.state, .closed(code: 1006, reason: "sending failed"))
        life.broke("again")
        XCTAssertEqual(life.closeStatus?.reason, "sending failed", "the first break is kept")
        life.end(code: 1002, reason: "reserved bits set")
        XCTAssertEqual(
            life.state, .closed(code: 1002, reason: "reserved bits set"), "the failure whose close frame failed")
        life.end(code: 1000, reason: "")
        life.broke("later")
        XCTAssertEqual(life.state, .closed(code: 1002, reason: "reserved bits set"))
    }

    // MARK: Message assembly

    func testAssemblingFragments() throws {
        var message = WebSocketMessageAssembly(limit: 8)
        XCTAssertNil(try message.add(WebSocketFrame(fin: false, opcode: .text, payload: [0x68, 0xC3])))
        XCTAssertEqual(
            try message.add(WebSocketFrame(opcode: .continuation, payload: [0xA9])), .text("hé"),
            "a character cut across frames")
        XCTAssertEqual(try message.add(WebSocketFrame(opcode: .binary, payload: [1, 2])), .binary([1, 2]))
        XCTAssertNil(try message.add(WebSocketFrame(fin: false, opcode: .binary, payload: [1, 2, 3, 4])))
        XCTAssertEqual(
            try message.add(WebSocketFrame(opcode: .continuation, payload: [5, 6, 7, 8])),
            .binary([1, 2, 3, 4, 5, 6, 7, 8]))
    }

    func testAssemblyErrors() {
        func error(_ frames: [WebSocketFrame], limit: Int = 8) -> WebSocketProtocolError? {
            var message = WebSocketMessageAssembly(limit: limit)
            do {
                for frame in frames { _ = try message.add(frame) }
                return nil
            } catch {
                return error
            }
        }
        XCTAssertEqual(error([WebSocketFrame(opcode: .continuation, payload: [1])]), .continuationWithoutMessage)
        XCTAssertEqual(
            error([WebSocketFrame(fin: false, opcode: .text, payload: [0x61]), WebSocketFrame(opcode: .binary)]),
            .newMessageInsideFragmentedOne)
        XCTAssertEqual(
            error([
                WebSocketFrame(fin: false, opcode: .binary, payload: [1, 2, 3, 4, 5]),
                WebSocketFrame(fin: false, opcode: .continuation, payload: [6, 7, 8, 9]),
            ]),
            .messageTooLarge(limit: 8), "refused before the message is complete")
        XCTAssertEqual(error([WebSocketFrame(opcode: .text, payload: [0xFF, 0xFE])]), .textNotUTF8)
    }

    // MARK: A connection over an in-memory stream

    private static func masked(_ frame: WebSocketFrame) -> [UInt8] { frame.encode(maskKey: 0x0102_0304) }

    func testServerFramesOnTheWireAndTheCloseHandshake() throws {
        try green {
            let (server, client) = MemoryStream.pair()
            let socket = WebSocket(
                stream: server, reader: BufferedStream(server), isClient: false, maxMessageBytes: 1024)
            try await socket.send("Hello")
            XCTAssertEqual(server.sent, [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], "a server does not mask")
            try await client.sendAll(
                Self.masked(WebSocketFrame(opcode: .ping, payload: [1]))
                    + Self.masked(WebSocketFrame(opcode: .text, payload: Array("hi".utf8)))
                    + Self.masked(
                        WebSocketFrame(opcode: .close, payload: WebSocketFrame.closePayload(code: 1000, reason: "bye"))),
                timeout: nil)
            let message = try await socket.receive(timeout: .seconds(5))
            XCTAssertEqual(message, .text("hi"))
            let end = try await socket.receive(timeout: .seconds(5))
            XCTAssertNil(end)
            XCTAssertTrue(socket.closeStatus! == (1000, "bye"))
            XCTAssertEqual(
                Array(server.sent.suffix(7)), [0x8A, 0x01, 1, 0x88, 0x02, 0x03, 0xE8],
                "the pong, then the answer with the code")
            do {
                try await socket.ping()
                XCTFail()
            } catch let error as WebSocketError { XCTAssertEqual(error, .closed) }
        }
    }

    func testAClientMasksEveryFrame() throws {
        try green {
            let (near, far) = MemoryStream.pair()
            let socket = WebSocket(stream: near, reader: BufferedStream(near), isClient: true, maxMessageBytes: 1024)
            try await socket.send(.text("Hello, fragments"), fragmentSize: 5)
            var decoder = WebSocketFrameDecoder(expectsMaskedFrames: true, maxPayloadBytes: 1024)
            decoder.feed(try await far.receive(maxLength: 1000, timeout: .seconds(1)))
            var frames: [WebSocketFrame] = []
            while let frame = try decoder.next() { frames.append(frame) }
            XCTAssertEqual(frames.map(\.opcode), [.text, .continuation, .continuation, .continuation])
            XCTAssertEqual(frames.map(\.fin), [false, false, false, true])
            XCTAssertEqual(frames.flatMap(\.payload), Array("Hello, fragments".utf8))
        }
    }

    /// A timeout between frames loses nothing; one inside a frame ends the connection (1006).
    func testTimeoutsBetweenAndInsideFrames() throws {
        try green {
            let (server, client) = MemoryStream.pair()
            let socket = WebSocket(
                stream: server, reader: BufferedStream(server), isClient: false, maxMessageBytes: 1024)
            try await client.sendAll(
                Self.masked(WebSocketFrame(fin: false, opcode: .text, payload: Array("hel".utf8))) + [0x80],
                timeout: nil)
            do {
                _ = try await socket.receive(timeout: .milliseconds(20))
                XCTFail()
            } catch is TimeoutError {}
            XCTAssertNil(socket.closeStatus, "one byte of the next frame is not a frame begun")
            try await client.sendAll(
                Array(Self.masked(WebSocketFrame(opcode: .continuation, payload: Array("lo".utf8))).dropFirst()),
                timeout: nil)
            let message = try await socket.receive(timeout: .seconds(5))
            XCTAssertEqual(message, .text("hello"))
            try await client.sendAll([0x81, 0x85, 1, 2], timeout: nil)
            do {
                _ = try await socket.receive(timeout: .milliseconds(20))
                XCTFail()
            } catch is TimeoutError {}
            XCTAssertEqual(socket.closeStatus?.code, 1006)
            let after = try await socket.receive(timeout: .seconds(1))
            XCTAssertNil(after)
        }
    }

    func testAProtocolErrorClosesWithItsCode() throws {
        try green {
            let (server, client) = MemoryStream.pair()
            let socket = WebSocket(stream: server, reader: BufferedStream(server), isClient: false, maxMessageBytes: 4)
            try await client.sendAll(
                Self.masked(WebSocketFrame(opcode: .binary, payload: [1, 2, 3, 4, 5])), timeout: nil)
            do {
                _ = try await socket.receive(timeout: .seconds(5))
                XCTFail()
            } catch let error as WebSocketError {
                XCTAssertEqual(error, .messageTooLarge(limit: 4))
            }
            XCTAssertTrue(socket.closeStatus! == (1009, "message too large"))
            XCTAssertEqual(server.sent, [0x88, 19, 0x03, 0xF1] + Array("message too large".utf8))
        }
    }
}
