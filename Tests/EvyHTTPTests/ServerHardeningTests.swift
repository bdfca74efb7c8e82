import Evy
import EvyHTTP
import EvyTestSupport
import XCTest

/// What a hostile or sloppy client sends must not reach a handler it should not, nor cost other
/// requests their answers (cases found in review).
final class ServerHardeningTests: XCTestCase {
    /// Paths the handler saw, in order.
    private final class Seen: @unchecked Sendable {
        var paths: [String] = []
        /// Set when a handler starts reading a body.
        let reading = Flag()
    }

    private static func start(
        _ seen: Seen, _ configure: @escaping (inout HTTPServer.Configuration) -> Void = { _ in }
    ) throws -> (HTTPServer, SocketAddress) {
        try startServer({ configure(&$0) }) { request, _ in
            seen.paths.append(request.path)
            switch request.path {
            case "/ws":
                return .takeOver { stream, leftover in
                    try await stream.sendAll(Array("switched:".utf8) + leftover, timeout: nil)
                }
            case "/all":
                seen.reading.set()
                return HTTPResponse(body: try await request.body.readAll())
            default: return .text("ok \(request.path)")
            }
        }
    }

    func testABodyOverTheLimitIsNeverParsedAsRequests() throws {
        try green {
            let seen = Seen()
            let (server, address) = try Self.start(seen) { $0.maxBodyBytes = 1000 }
            let socket = try await connect(to: address)
            defer { socket.close() }
            try await socket.sendAll(
                "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"
                    + "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n")
            let reader = socket.buffered()
            let response = try await readResponse(reader)
            XCTAssertEqual(response?.status, 413)
            let rest = try await reader.read(timeout: .seconds(5))
            XCTAssertEqual(rest, [], "nothing after the 413")
            XCTAssertEqual(seen.paths, [], "the body's bytes reached no handler")
            await server.stop(grace: .zero)
        }
    }

    func testGarbageAfterAStreamedBodyCostsThatRequestNothing() throws {
        try green {
            let seen = Seen()
            let (server, address) = try Self.start(seen)
            let socket = try await connect(to: address)
            defer { socket.close() }
            let reader = socket.buffered()
            try await socket.sendAll("POST /all HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
            _ = try await seen.reading.wait(timeout: .seconds(5))  // the handler is reading the body now
            try await socket.sendAll("world\u{1}\u{2}NOT HTTP\r\n\r\n")
            let first = try await readResponse(reader)
            let second = try await readResponse(reader)
            XCTAssertEqual(first?.body, "helloworld")
            XCTAssertEqual(second?.status, 400)
            await server.stop(grace: .zero)
        }
    }

    func testAnUpgradeRequestPipelinedAfterAnotherIsAnsweredWithItsLeftover() throws {
        try green {
            let seen = Seen()
            let (server, address) = try Self.start(seen)
            let socket = try await connect(to: address)
            defer { socket.close() }
            let reader = socket.buffered()
            try await socket.sendAll(
                "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nFRAMES")
            let first = try await readResponse(reader)
            XCTAssertEqual(first?.body, "ok /a")
            var rest: [UInt8] = []
            while case let chunk = try await reader.read(timeout: .seconds(5)), !chunk.isEmpty { rest += chunk }
            XCTAssertEqual(String(decoding: rest, as: UTF8.self), "switched:FRAMES")
            await server.stop(grace: .zero)
        }
    }

    func testAnUpgradeAnsweredAsPlainHTTPSaysTheConnectionCloses() throws {
        try green {
            let seen = Seen()
            let (server, address) = try Self.start(seen)
            let socket = try await connect(to: address)
            defer { socket.close() }
            // What `curl --http2 http://…` sends: the server may ignore the upgrade and answer.
            try await socket.sendAll(
                "GET /page HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                    + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
            let reader = socket.buffered()
            let response = try await readResponse(reader)
            XCTAssertEqual(response?.body, "ok /page")
            XCTAssertEqual(
                response?.headers["connection"], "close", "the parser stopped at the upgrade: the client must know")
            await server.stop(grace: .zero)
        }
    }

    func testA413ReachesAClientThatKeepsSending() throws {
        try green {
            let seen = Seen()
            let (server, address) = try Self.start(seen) { $0.maxBodyBytes = 1000 }
            let socket = try await connect(to: address)
            defer { socket.close() }
            try await socket.sendAll("POST /all HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            // A chunked upload that passes the limit and goes on: the server answers 413 while
            // bytes are still arriving, and must not reset the connection under its answer.
            let chunk = Array("4000\r\n".utf8) + [UInt8](repeating: 0x61, count: 0x4000) + Array("\r\n".utf8)
            spawnN { for _ in 0..<32 { try? await socket.sendAll(chunk) } }
            let response = try await readResponse(socket.buffered())
            XCTAssertEqual(response?.status, 413)
            await server.stop(grace: .zero)
        }
    }

    func testHeadersDrippedSlowlyOrCutAfterTheMethodGet408() throws {
        try green {
            let seen = Seen()
            let (server, address) = try Self.start(seen) {
                $0.requestTimeout = .milliseconds(300)
                $0.idleTimeout = .seconds(20)
            }
            // One byte every 100 ms never lets a single read time out: the whole head must.
            let drip = try await connect(to: address)
            defer { drip.close() }
            spawnN {
                for byte in "GET / HTTP/1.1\r\nX-Slow: ".utf8 + Array(repeating: UInt8(ascii: "a"), count: 100) {
                    guard (try? await drip.sendAll([byte])) != nil else { return }
                    try? await sleep(for: .milliseconds(100))
                }
            }
            let dripped = try await readResponse(drip.buffered())
            XCTAssertEqual(dripped?.status, 408)
            // Only the method, then silence: a request has begun, so it is a 408, not an idle close.
            let cut = try await connect(to: address)
            defer { cut.close() }
            try await cut.sendAll("GET ")
            let answer = try await readResponse(cut.buffered())
            XCTAssertEqual(answer?.status, 408)
            await server.stop(grace: .zero)
        }
    }
}
