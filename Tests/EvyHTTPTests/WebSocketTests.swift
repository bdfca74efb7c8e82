import Evy
import EvyHTTP
import EvyTestSupport
import Foundation
import XCTest

final class WebSocketTests: XCTestCase {
    /// A WebSocket echo server; `/chat` only for an allowed origin, `/small` with a 16-byte limit.
    private static func start() throws -> (HTTPServer, Int) {
        let (server, address) = try startServer { request, _ in
            switch request.path {
            case "/echo", "/chat", "/small":
                return .webSocket(
                    request, allowedOrigins: request.path == "/chat" ? ["http://good.example"] : nil,
                    maxMessageBytes: request.path == "/small" ? 16 : 1 << 20
                ) { socket in
                    while let message = try await socket.receive() { try await socket.send(message) }
                }
            default: return .text("plain page")
            }
        }
        return (server, address.port)
    }

    func testEchoTextBinaryPingAndCloseHandshake() throws {
        try green {
            let (server, port) = try Self.start()
            let socket = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/echo")
            try await socket.send("hello")
            let text = try await socket.receive(timeout: .seconds(5))
            XCTAssertEqual(text, .text("hello"))
            let big = [UInt8]((0..<70_000).map { UInt8($0 & 0xFF) })  // a 64-bit length frame
            try await socket.send(big)
            let binary = try await socket.receive(timeout: .seconds(5))
            XCTAssertEqual(binary, .binary(big))
            try await socket.ping([1, 2, 3])
            try await socket.send("after ping")
            let afterPing = try await socket.receive(timeout: .seconds(5))
            XCTAssertEqual(afterPing, .text("after ping"), "the pong is handled, not returned")
            await socket.close(code: 1000, reason: "bye")
            XCTAssertEqual(socket.closeStatus?.code, 1000, "the server answered the close")
            await server.stop()
        }
    }

    func testHandshakeOriginSizeLimitAndMaskingRules() throws {
        try green {
            let (server, port) = try Self.start()
            do {
                _ = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/chat", origin: "http://evil.example")
                XCTFail()
            } catch let error as WebSocketError {
                XCTAssertEqual(error, .handshake("the server did not switch protocols"))
            }
            let allowed = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/chat", origin: "http://good.example")
            await allowed.close()
            do {
                _ = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/plain")
                XCTFail()
            } catch is WebSocketError {}

            let small = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/small")
            try await small.send(String(repeating: "x", count: 100))
            let answer = try await small.receive(timeout: .seconds(5))
            XCTAssertNil(answer, "the server closed the connection")
            XCTAssertEqual(small.closeStatus?.code, 1009)

            // A raw client that does not mask its frame: the server refuses with 1002.
            let raw = try await connect(to: SocketAddress(ip: "127.0.0.1", port: port))
            try await raw.sendAll(
                "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            let stream = raw.buffered()
            let status = try await stream.readLine(timeout: .seconds(5))
            XCTAssertEqual(status, "HTTP/1.1 101 Switching Protocols")
            var accept = ""
            while let line = try await stream.readLine(timeout: .seconds(5)), !line.isEmpty {
                if line.lowercased().hasPrefix("sec-websocket-accept") {
                    accept = String(line.split(separator: " ").last!)
                }
            }
            XCTAssertEqual(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455's example key")
            try await raw.sendAll([0x81, 0x02, 0x68, 0x69])  // "hi", unmasked
            let closeFrame = try await stream.readExactly(4, timeout: .seconds(5))
            XCTAssertEqual(closeFrame[0], 0x88)
            XCTAssertEqual(UInt16(closeFrame[2]) << 8 | UInt16(closeFrame[3]), 1002)
            raw.close()
            await server.stop()
        }
    }

    /// A client that vanishes in the middle of a frame is an abnormal closure (1006), reported as a
    /// ``WebSocketError`` like every other peer failure (found by scripts/fuzz).
    func testPeerVanishingMidFrameIsAnAbnormalClosure() throws {
        try green {
            let outcome = Event<String>()
            let (server, address) = try startServer { request, _ in
                .webSocket(request) { socket in
                    do {
                        _ = try await socket.receive(timeout: .seconds(5))
                        try outcome.send("no error")
                    } catch {
                        try outcome.send("\(error) \(socket.closeStatus?.code ?? 0)")
                    }
                }
            }
            let client = try await connect(to: address)
            try await client.sendAll(
                "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            try await client.sendAll([0x81, 0x85, 1, 2, 3, 4, 0x61])  // 5 bytes announced, 1 sent
            client.close()
            let result = try await outcome.wait(timeout: .seconds(5))
            XCTAssertEqual(result, "WebSocket protocol error: the connection closed without a close frame 1006")
            await server.stop()
        }
    }

    func testFragmentedMessagesAndInvalidUTF8() throws {
        try green {
            let (server, port) = try Self.start()
            let raw = try await connect(to: SocketAddress(ip: "127.0.0.1", port: port))
            try await raw.sendAll(
                "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            let stream = raw.buffered()
            while let line = try await stream.readLine(timeout: .seconds(5)), !line.isEmpty {}
            func masked(_ first: UInt8, _ payload: [UInt8]) -> [UInt8] {
                let key: [UInt8] = [1, 2, 3, 4]
                return [first, 0x80 | UInt8(payload.count)] + key
                    + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
            }
            // "hel" (text, not final), a ping in between, then "lo" (continuation, final).
            try await raw.sendAll(masked(0x01, Array("hel".utf8)) + masked(0x89, [7]) + masked(0x80, Array("lo".utf8)))
            let pong = try await stream.readExactly(3, timeout: .seconds(5))
            XCTAssertEqual(pong, [0x8A, 0x01, 7], "the ping is answered in the middle of the message")
            let echo = try await stream.readExactly(7, timeout: .seconds(5))
            XCTAssertEqual(echo, [0x81, 0x05] + Array("hello".utf8))
            try await raw.sendAll(masked(0x81, [0xFF, 0xFE]))  // not UTF-8
            let closeFrame = try await stream.readExactly(4, timeout: .seconds(5))
            XCTAssertEqual(UInt16(closeFrame[2]) << 8 | UInt16(closeFrame[3]), 1007)
            raw.close()
            await server.stop()
        }
    }
}
