import Evy
import EvyHTTP
import EvyTestSupport
import Foundation
import XCTest

/// WebSocket edge cases found in review: timeouts inside messages and frames, closing while
/// another green thread reads, close codes, a peer that stops reading, handshake details.
final class WebSocketHardeningTests: XCTestCase {
    /// What the server side saw, for the test to check.
    private final class Probe: @unchecked Sendable {
        var target = ""
        var evilHeader: String?
        var results: [String] = []
        let timedOut = Flag()
        let done = Flag()
    }

    /// `/timeouts`: receives with a 100 ms timeout, recording each outcome, until the peer closes.
    private static func start(_ probe: Probe) throws -> (HTTPServer, Int) {
        let (server, address) = try startServer { request, _ in
            probe.target = request.target
            probe.evilHeader = request.header("X-Evil")
            return .webSocket(request) { socket in
                defer { probe.done.set() }
                while true {
                    do {
                        // `/outer` times out from outside: the receive is cancelled rather than timed out.
                        let message =
                            request.path == "/outer"
                            ? try await withTimeout(.milliseconds(100)) { try await socket.receive() }
                            : try await socket.receive(timeout: .milliseconds(100))
                        guard let message else {
                            probe.results.append("closed \(socket.closeStatus?.code ?? 0)")
                            return
                        }
                        probe.results.append("\(message)")
                    } catch is TimeoutError {
                        probe.results.append("timeout")
                        probe.timedOut.set()
                        if socket.closeStatus != nil {
                            probe.results.append("broken \(socket.closeStatus!.code)")
                            return
                        }
                    } catch {
                        probe.results.append("error \(error)")
                        return
                    }
                }
            }
        }
        return (server, address.port)
    }

    /// A raw client after a valid handshake, and its reader.
    private static func rawClient(
        _ port: Int, path: String = "/timeouts", version: String = "13", connection: String = "Upgrade"
    )
        async throws -> (Socket, BufferedStream, String)
    {
        let raw = try await connect(to: SocketAddress(ip: "127.0.0.1", port: port))
        try await raw.sendAll(
            "GET \(path) HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: \(connection)\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: \(version)\r\n\r\n")
        let reader = raw.buffered()
        let status = try await reader.readLine(timeout: .seconds(5)) ?? ""
        while let line = try await reader.readLine(timeout: .seconds(5)), !line.isEmpty {}
        return (raw, reader, status)
    }

    private static func masked(_ first: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let key: [UInt8] = [1, 2, 3, 4]
        return [first, 0x80 | UInt8(payload.count)] + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
    }

    func testATimeoutBetweenFragmentsLosesNothingAndOneInsideAFrameEndsTheConnection() throws {
        try green {
            let probe = Probe()
            let (server, port) = try Self.start(probe)
            let (raw, _, _) = try await Self.rawClient(port)
            try await raw.sendAll(Self.masked(0x01, Array("hel".utf8)))  // first fragment
            _ = try await probe.timedOut.wait(timeout: .seconds(5))  // a receive timed out in between
            try await raw.sendAll(Self.masked(0x80, Array("lo".utf8)))
            // Now half a frame: its head, then silence.
            try await raw.sendAll([0x81, 0x85, 1, 2])
            _ = try await probe.done.wait(timeout: .seconds(5))
            let results = probe.results.filter { $0 != "timeout" }
            XCTAssertEqual(
                results.first, "\(WebSocket.Message.text("hello"))",
                "the message survived the timeout between its fragments")
            XCTAssertEqual(results.last, "broken 1006", "a frame cut by a timeout ends the connection")
            XCTAssertTrue(probe.results.dropFirst().contains("timeout"))
            raw.close()
            await server.stop(grace: .zero)
        }
    }

    func testAReceiveCancelledInsideAFrameEndsTheConnection() throws {
        try green {
            let probe = Probe()
            let (server, port) = try Self.start(probe)
            let (raw, _, _) = try await Self.rawClient(port, path: "/outer")
            try await raw.sendAll([0x81, 0x85, 1, 2])  // half a frame, then silence
            _ = try await probe.done.wait(timeout: .seconds(5))
            XCTAssertEqual(probe.results.last, "broken 1006")
            raw.close()
            await server.stop(grace: .zero)
        }
    }

    func testInvalidCloseCodesAreAProtocolError() throws {
        try green {
            let probe = Probe()
            let (server, port) = try Self.start(probe)
            let (raw, reader, _) = try await Self.rawClient(port)
            try await raw.sendAll(Self.masked(0x88, [0x03, 0xED]))  // 1005 must never be sent
            let close = try await reader.readExactly(4, timeout: .seconds(5))
            XCTAssertEqual(UInt16(close[2]) << 8 | UInt16(close[3]), 1002)
            raw.close()
            await server.stop(grace: .zero)
        }
    }

    func testHandshakeDetails() throws {
        try green {
            let probe = Probe()
            let (server, port) = try Self.start(probe)
            let (old, _, oldStatus) = try await Self.rawClient(port, version: "8")
            XCTAssertTrue(oldStatus.hasPrefix("HTTP/1.1 426"), oldStatus)
            old.close()
            let (plain, _, plainStatus) = try await Self.rawClient(port, connection: "keep-alive")
            XCTAssertTrue(plainStatus.hasPrefix("HTTP/1.1 400"), "no Connection: Upgrade, no upgrade")
            plain.close()
            // The client sends its path as written: an escaped line break stays escaped.
            let socket = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/a%0D%0AX-Evil:%201?q=1")
            XCTAssertEqual(probe.target, "/a%0D%0AX-Evil:%201?q=1")
            XCTAssertNil(probe.evilHeader)
            await socket.close()
            await server.stop(grace: .zero)
        }
    }

    func testFragmentedMessagesBothWays() throws {
        try green {
            let (server, address) = try startServer { request, _ in
                .webSocket(request) { socket in
                    while let message = try await socket.receive() { try await socket.send(message, fragmentSize: 7) }
                }
            }
            let socket = try await WebSocket.connect(to: "ws://127.0.0.1:\(address.port)/")
            let text = String(repeating: "fragmented é ", count: 800)  // multi-byte characters cut across frames
            try await socket.send(.text(text), fragmentSize: 1000)
            let echoed = try await socket.receive(timeout: .seconds(5))
            XCTAssertEqual(echoed, .text(text))
            let bytes = [UInt8]((0..<3000).map { UInt8($0 & 0xFF) })
            try await socket.send(.binary(bytes), fragmentSize: 1024)
            let binary = try await socket.receive(timeout: .seconds(5))
            XCTAssertEqual(binary, .binary(bytes))
            await socket.close()
            await server.stop(grace: .zero)
        }
    }

    func testClosingWhileAnotherGreenThreadReceivesAndSendingAfterClose() throws {
        try green {
            let (server, address) = try startServer { request, _ in
                .webSocket(request) { socket in
                    while let message = try await socket.receive() { try await socket.send(message) }
                }
            }
            let socket = try await WebSocket.connect(to: "ws://127.0.0.1:\(address.port)/")
            let first = Flag()
            let reader = spawn { () -> [String] in
                var seen: [String] = []
                while let message = try await socket.receive() {
                    seen.append("\(message)")
                    first.set()
                }
                return seen
            }
            try await socket.send("one")
            _ = try await first.wait(timeout: .seconds(5))  // the reader has "one" and waits again
            await socket.close(code: 1000, timeout: .seconds(5))
            let seen = try await reader.wait(timeout: .seconds(5))
            XCTAssertEqual(seen, ["\(WebSocket.Message.text("one"))"], "one reader, nothing lost or misread")
            XCTAssertEqual(socket.closeStatus?.code, 1000)
            do {
                try await socket.send("too late")
                XCTFail()
            } catch let error as WebSocketError {
                XCTAssertEqual(error, .closed)
            }
            await server.stop(grace: .zero)
        }
    }
}
