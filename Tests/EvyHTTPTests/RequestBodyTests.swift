import Evy
import EvyHTTP
import EvyTestSupport
import XCTest

/// Request bodies reach the handler as they arrive, not after the whole upload.
final class RequestBodyTests: XCTestCase {
    /// A server whose `/count` counts the body as it streams in (signalling the first piece),
    /// `/ignore` answers without reading it, and `/all` echoes the whole body.
    private static func start(
        _ configure: @escaping (inout HTTPServer.Configuration) -> Void = { _ in }, firstPiece: Event<Int>? = nil
    ) throws -> (HTTPServer, SocketAddress) {
        try startServer({ configure(&$0) }) { request, _ in
            switch request.path {
            case "/count":
                var total = 0
                for try await piece in request.body {
                    if total == 0 { try firstPiece?.send(piece.count) }
                    total += piece.count
                }
                return .text("\(total)")
            case "/all": return HTTPResponse(body: try await request.body.readAll())
            case "/echo":
                return HTTPResponse { writer in for try await piece in request.body { try await writer.write(piece) } }
            default: return .text("ignored", status: 401)
            }
        }
    }

    func testTheHandlerReadsTheBodyWhileTheClientIsStillSendingIt() throws {
        try green {
            let firstPiece = Event<Int>()
            let (server, address) = try Self.start({ $0.maxBodyBytes = 64 << 20 }, firstPiece: firstPiece)
            let socket = try await connect(to: address)
            defer { socket.close() }
            try await socket.sendAll("POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            let piece = [UInt8](repeating: 0x61, count: 1 << 20)
            try await socket.sendAll(Array("100000\r\n".utf8) + piece + Array("\r\n".utf8))
            // The handler has seen bytes before the client sends the rest: the body streams.
            let seen = try await firstPiece.wait(timeout: .seconds(10))
            XCTAssertGreaterThan(seen, 0)
            for _ in 1..<16 { try await socket.sendAll(Array("100000\r\n".utf8) + piece + Array("\r\n".utf8)) }
            try await socket.sendAll("0\r\n\r\n")
            let response = try await readResponse(socket.buffered())
            XCTAssertEqual(response?.status, 200)
            XCTAssertEqual(response?.body, "\(16 << 20)")
            await server.stop(grace: .zero)
        }
    }

    func testExpectContinueIsAnsweredAtTheFirstReadAndOnlyThen() throws {
        try green {
            let (server, address) = try Self.start()
            let socket = try await connect(to: address)
            defer { socket.close() }
            let reader = socket.buffered()
            try await socket.sendAll(
                "POST /all HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            let interim = try await reader.readLine(timeout: .seconds(5))
            let blank = try await reader.readLine(timeout: .seconds(5))
            XCTAssertEqual([interim, blank], ["HTTP/1.1 100 Continue", ""])
            try await socket.sendAll("hello")
            let response = try await readResponse(reader)
            XCTAssertEqual(response?.body, "hello")

            // A streamed response that reads the body as it writes: the 100 comes before its head.
            try await socket.sendAll(
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
            let streamedInterim = try await reader.readLine(timeout: .seconds(5))
            _ = try await reader.readLine(timeout: .seconds(5))
            XCTAssertEqual(streamedInterim, "HTTP/1.1 100 Continue")
            try await socket.sendAll("hi")
            let echoed = try await readResponse(reader)
            XCTAssertEqual(echoed?.body, "hi")

            // A handler that answers without reading sends no 100 and closes the connection,
            // since the client may never send the body it holds back.
            try await socket.sendAll(
                "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            let refused = try await readResponse(reader)
            XCTAssertEqual(refused?.status, 401)
            XCTAssertEqual(refused?.headers["connection"], "close")
            let rest = try await reader.read(timeout: .seconds(5))
            XCTAssertEqual(rest, [], "the server closed the connection")
            await server.stop(grace: .zero)
        }
    }

    func testAnUnreadBodyIsSkippedAndTheConnectionServesTheNextRequest() throws {
        try green {
            let (server, address) = try Self.start()
            let socket = try await connect(to: address)
            defer { socket.close() }
            let reader = socket.buffered()
            let body = String(repeating: "x", count: 100_000)
            try await socket.sendAll(
                "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    + "POST /all HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            let first = try await readResponse(reader)
            let second = try await readResponse(reader)
            XCTAssertEqual(first?.status, 401)
            XCTAssertEqual(second?.body, "abc")
            await server.stop(grace: .zero)
        }
    }

    func testBodiesTooLargeBrokenOrTooSlowGetTheirStatus() throws {
        try green {
            let (server, address) = try Self.start {
                $0.maxBodyBytes = 1000
                $0.requestTimeout = .milliseconds(200)
            }
            func exchange(_ raw: String) async throws -> RawResponse? {
                let socket = try await connect(to: address)
                defer { socket.close() }
                try await socket.sendAll(raw)
                return try await readResponse(socket.buffered())
            }
            // Declared too large: refused before the handler runs.
            let declared = try await exchange("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
            XCTAssertEqual(declared?.status, 413)
            // Chunked past the limit while the handler streams it.
            let chunk = "3e8\r\n\(String(repeating: "y", count: 1000))\r\n"
            let streamed = try await exchange(
                "POST /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\(chunk)\(chunk)")
            XCTAssertEqual(streamed?.status, 413)
            let broken = try await exchange(
                "POST /all HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nabc\r\n")
            XCTAssertEqual(broken?.status, 400)
            // Half the body, then silence: the read times out and the client gets its 408.
            let slow = try await exchange("POST /all HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
            XCTAssertEqual(slow?.status, 408)
            // None of that touched anyone else.
            let fine = try await exchange("POST /all HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
            XCTAssertEqual(fine?.body, "ok")
            await server.stop(grace: .zero)
        }
    }
}
