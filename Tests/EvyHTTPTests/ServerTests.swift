import Evy
import EvyHTTP
import EvyTestSupport
import Foundation
import XCTest

/// A response as a test client reads it.
struct RawResponse {
    var status: Int
    var headers: [String: String]
    var body: String
}

/// Reads one response: status line, headers, then a Content-Length, chunked or to-the-end body.
func readResponse(_ stream: BufferedStream, head: Bool = false) async throws -> RawResponse? {
    guard let statusLine = try await stream.readLine(timeout: .seconds(5)) else { return nil }
    let status = Int(statusLine.split(separator: " ")[1]) ?? 0
    var headers: [String: String] = [:]
    while let line = try await stream.readLine(timeout: .seconds(5)), !line.isEmpty {
        let parts = line.split(separator: ":", maxSplits: 1)
        headers[parts[0].lowercased()] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
    }
    var body: [UInt8] = []
    if head {
    } else if let length = headers["content-length"].flatMap({ Int($0) }) {
        body = try await stream.readExactly(length, timeout: .seconds(5))
    } else if headers["transfer-encoding"] == "chunked" {
        while let sizeLine = try await stream.readLine(timeout: .seconds(5)), let size = Int(sizeLine, radix: 16) {
            if size == 0 {
                _ = try await stream.readLine(timeout: .seconds(5))
                break
            }
            body += try await stream.readExactly(size, timeout: .seconds(5))
            _ = try await stream.readLine(timeout: .seconds(5))
        }
    } else {
        while case let chunk = try await stream.read(timeout: .seconds(5)), !chunk.isEmpty { body += chunk }
    }
    return RawResponse(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
}

/// A server on a free port; returns it and its address.
func startServer(_ configure: (inout HTTPServer.Configuration) -> Void = { _ in }, _ handler: @escaping HTTPHandler)
    throws -> (HTTPServer, SocketAddress)
{
    var configuration = HTTPServer.Configuration()
    configuration.accessLog = false
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, handler: handler)
    let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
    spawnN { try await server.serve(listener) }
    return (server, listener.localAddress!)
}

final class HTTPServerTests: XCTestCase {
    func testKeepAlivePipeliningHeadAndHTTP10() throws {
        try green {
            let (server, address) = try startServer { request, _ in
                .text("\(request.method) \(request.path) q=\(request.query ?? "-")")
            }
            let client = try await connect(to: address)
            let stream = client.buffered()
            // Two requests in one write: answered in order on the same connection.
            try await client.sendAll("GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /b HTTP/1.1\r\nHost: t\r\n\r\n")
            let first = try await readResponse(stream)
            let second = try await readResponse(stream)
            XCTAssertEqual(first?.body, "GET /a q=x=1")
            XCTAssertEqual(second?.body, "GET /b q=-")
            try await client.sendAll("HEAD /c HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try await readResponse(stream, head: true)
            XCTAssertEqual(head?.status, 200)
            XCTAssertEqual(head?.headers["content-length"], "11", "HEAD gets the length of the body it does not get")
            client.close()
            // HTTP/1.0 without keep-alive: the server closes after the response.
            let old = try await connect(to: address)
            try await old.sendAll("GET /old HTTP/1.0\r\n\r\n")
            let oldStream = old.buffered()
            let answer = try await readResponse(oldStream)
            XCTAssertEqual(answer?.headers["connection"], "close")
            let end = try await oldStream.read(timeout: .seconds(5))
            XCTAssertTrue(end.isEmpty)
            old.close()
            await server.stop()
        }
    }

    func testBodiesStreamsHooksErrorsAndTakeOver() throws {
        try green {
            let hooked = Flag()
            let (server, address) = try startServer { request, exchange in
                switch request.path {
                case "/echo": return HTTPResponse(body: try await request.body.readAll())
                case "/stream": return HTTPResponse { writer in for i in 1...3 { try await writer.write("part\(i);") } }
                case "/hook":
                    exchange.addPostHook { hooked.set() }
                    return .text("hooked")
                case "/fail": throw CancellationError()
                case "/raw":
                    return .takeOver { stream, _ in
                        try await stream.sendAll(Array("RAW CONNECTION\n".utf8), timeout: nil)
                    }
                default: return .text("missing", status: 404)
                }
            }
            let client = try await connect(to: address)
            let stream = client.buffered()
            try await client.sendAll("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
            let echoed = try await readResponse(stream)
            XCTAssertEqual(echoed?.body, "hello")
            try await client.sendAll(
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            let chunked = try await readResponse(stream)
            XCTAssertEqual(chunked?.body, "abcde")
            try await client.sendAll("GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
            let streamed = try await readResponse(stream)
            XCTAssertEqual(streamed?.headers["transfer-encoding"], "chunked")
            XCTAssertEqual(streamed?.body, "part1;part2;part3;")
            try await client.sendAll("GET /hook HTTP/1.1\r\nHost: t\r\n\r\n")
            _ = try await readResponse(stream)
            let ranHook = try await hooked.wait(timeout: .seconds(5))
            XCTAssertTrue(ranHook, "post hooks run after the response")
            try await client.sendAll("GET /nothing HTTP/1.1\r\nHost: t\r\n\r\n")
            let missing = try await readResponse(stream)
            XCTAssertEqual(missing?.status, 404)
            try await client.sendAll("GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
            let failed = try await readResponse(stream)
            XCTAssertEqual(failed?.status, 500)
            client.close()
            let raw = try await connect(to: address)
            try await raw.sendAll("GET /raw HTTP/1.1\r\nHost: t\r\n\r\n")
            let line = try await raw.buffered().readLine(timeout: .seconds(5))
            XCTAssertEqual(line, "RAW CONNECTION")
            raw.close()
            await server.stop()
        }
    }

    func testBadInputGetsAClearStatusAndNothingElseIsAffected() throws {
        try green {
            let (server, address) = try startServer({ configuration in
                configuration.maxHeaderBytes = 512
                configuration.maxBodyBytes = 64
                configuration.requestTimeout = .milliseconds(100)
                configuration.idleTimeout = .milliseconds(300)
            }) { _, _ in .text("ok") }
            func exchange(_ raw: String) async throws -> RawResponse? {
                let socket = try await connect(to: address)
                defer { socket.close() }
                try await socket.sendAll(raw)
                return try await readResponse(socket.buffered())
            }
            let garbage = try await exchange("\u{1}\u{2}NOT HTTP AT ALL\r\n\r\n")
            XCTAssertEqual(garbage?.status, 400)
            // A good request followed by garbage in the same packet is answered, then the garbage
            // gets its 400 (found by scripts/fuzz).
            let mixed = try await connect(to: address)
            try await mixed.sendAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n\u{1}\u{2}NOT HTTP\r\n\r\n")
            let mixedReader = mixed.buffered()
            let first = try await readResponse(mixedReader)
            let second = try await readResponse(mixedReader)
            XCTAssertEqual([first?.status, second?.status], [200, 400])
            mixed.close()
            let huge = try await exchange("GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 2000))\r\n\r\n")
            XCTAssertEqual(huge?.status, 431)
            let fat = try await exchange(
                "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "b", count: 1000))
            XCTAssertEqual(fat?.status, 413)
            let slow = try await exchange("GET / HTTP/1.1\r\nHost: slow")  // then nothing: slowloris
            XCTAssertEqual(slow?.status, 408)
            // An idle keep-alive connection is closed after the idle timeout, without a response.
            let idle = try await connect(to: address)
            let end = try await idle.receive(timeout: .seconds(5))
            XCTAssertTrue(end.isEmpty)
            idle.close()
            let fine = try await exchange("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            XCTAssertEqual(fine?.body, "ok")
            await server.stop()
        }
    }

    func testGracefulStopFinishesRequestsInProgress() throws {
        try green {
            let (server, address) = try startServer { _, _ in
                try await sleep(for: .milliseconds(100))
                return .text("finished")
            }
            let busy = try await connect(to: address)
            let idle = try await connect(to: address)
            try await busy.sendAll("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            try await sleep(for: .milliseconds(20))
            let stopping = spawn { await server.stop() }
            let response = try await readResponse(busy.buffered())
            XCTAssertEqual(response?.body, "finished")
            XCTAssertEqual(response?.headers["connection"], "close", "no keep-alive while stopping")
            try await stopping.wait(timeout: .seconds(5))
            let idleEnd = try await idle.receive(timeout: .seconds(5))
            XCTAssertTrue(idleEnd.isEmpty, "idle connections are closed by stop()")
            do {
                _ = try await connect(to: address, timeout: .seconds(2))
                XCTFail("still accepting")
            } catch is SocketError {}
            busy.close()
            idle.close()
        }
    }
}

final class HTTPExampleTests: XCTestCase {
    func testHelloWorldExample() throws {
        try green {
            let (server, output, port) = try await startExample("http-hello")
            let client = try await connect(to: SocketAddress(ip: "127.0.0.1", port: port), timeout: .seconds(5))
            try await client.sendAll("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let response = try await readResponse(client.buffered())
            XCTAssertEqual(response?.body, "Hello, World!\r\n")
            let hook = try await output.readLine(timeout: .seconds(5))
            XCTAssertEqual(hook, "Hook called after answering GET /")
            client.close()
            try server.kill(SIGINT)
            let stopped = try await output.readLine(timeout: .seconds(5))
            XCTAssertEqual(stopped, "server stopped")
            let status = try await server.wait(timeout: .seconds(5))
            XCTAssertEqual(status, .exited(0))
        }
    }
}
