import Evy
import EvyHTTP
import EvyTestSupport
import Foundation
import XCTest

/// `text` compressed with the gzip tool, made at test time.
func gzipped(_ text: String) async throws -> [UInt8] {
    let (status, output, _) = try await ChildProcess.run(
        ["gzip", "-c"], input: Array(text.utf8), timeout: .seconds(10))
    guard status.succeeded else { throw HTTPClientError.badCompression("gzip tool failed") }
    return output
}

final class HTTPClientTests: XCTestCase {
    func testKeepAliveChunkedGzipAndConditionalGet() throws {
        try green {
            let compressed = try await gzipped(String(repeating: "compressed body ", count: 100))
            let (server, address) = try startServer { request, _ in
                switch request.path {
                case "/chunked":
                    return HTTPResponse { writer in for word in ["a", "b", "c"] { try await writer.write(word) } }
                case "/gzip": return HTTPResponse(headers: [("Content-Encoding", "gzip")], body: compressed)
                case "/truncated":
                    return HTTPResponse(headers: [("Content-Encoding", "gzip")], body: Array(compressed.prefix(20)))
                case "/feed":
                    if request.header("If-None-Match") == "\"v1\"" { return HTTPResponse(status: 304) }
                    return HTTPResponse(headers: [("ETag", "\"v1\"")], body: Array("<rss/>".utf8))
                default: return .text("hello \(request.path)")
                }
            }
            let client = HTTPClient()
            let base = "http://127.0.0.1:\(address.port)"
            for i in 0..<5 {
                let page = try await client.get("\(base)/page\(i)")
                XCTAssertEqual(page.text, "hello /page\(i)")
            }
            XCTAssertEqual(client.connectionsOpened, 1, "sequential requests reuse one keep-alive connection")
            let chunked = try await client.get("\(base)/chunked")
            XCTAssertEqual(chunked.text, "abc")
            let gzip = try await client.get("\(base)/gzip")
            XCTAssertEqual(gzip.text, String(repeating: "compressed body ", count: 100))
            do {
                _ = try await client.get("\(base)/truncated")
                XCTFail("a truncated gzip body must fail")
            } catch let error as HTTPClientError {
                XCTAssertEqual(error, .badCompression("truncated data"))
            }
            let feed = try await client.get("\(base)/feed")
            XCTAssertEqual(feed.status, 200)
            let again = try await client.get("\(base)/feed", ifChanged: feed.validators)
            XCTAssertEqual(again.status, 304, "not fetched twice for nothing")
            client.close()
            await server.stop()
        }
    }

    func testRedirectsLimitsLoopsAndMethodRules() throws {
        try green {
            let (server, address) = try startServer { request, _ in
                switch request.path {
                case "/start": return HTTPResponse(status: 302, headers: [("Location", "/middle")])
                case "/middle": return HTTPResponse(status: 301, headers: [("Location", "/end")])
                case "/loop-a": return HTTPResponse(status: 302, headers: [("Location", "/loop-b")])
                case "/loop-b": return HTTPResponse(status: 302, headers: [("Location", "/loop-a")])
                case "/post": return HTTPResponse(status: 303, headers: [("Location", "/end")])
                case let path where path.hasPrefix("/chain"):
                    let n = Int(path.dropFirst(6)) ?? 0
                    return HTTPResponse(status: 307, headers: [("Location", "/chain\(n + 1)")])
                default: return .text("\(request.method) \(request.path)")
                }
            }
            var configuration = HTTPClient.Configuration()
            configuration.maxRedirects = 3
            let client = HTTPClient(configuration: configuration)
            let base = "http://127.0.0.1:\(address.port)"
            let end = try await client.get("\(base)/start")
            XCTAssertEqual(end.text, "GET /end")
            XCTAssertEqual(end.url.path, "/end")
            do {
                _ = try await client.get("\(base)/loop-a")
                XCTFail()
            } catch let error as HTTPClientError {
                XCTAssertEqual(error, .redirectLoop("\(base)/loop-a"))
            }
            do {
                _ = try await client.get("\(base)/chain0")
                XCTFail()
            } catch let error as HTTPClientError {
                XCTAssertEqual(error, .tooManyRedirects(limit: 3))
            }
            let posted = try await client.request("POST", "\(base)/post", body: Array("x".utf8))
            XCTAssertEqual(posted.text, "GET /end", "303 turns a POST into a GET")
            await server.stop()
        }
    }

    func testTimeoutsBodyLimitAndBrokenServers() throws {
        try green {
            let (server, address) = try startServer { request, _ in
                if request.path == "/slow" { try await sleep(for: .milliseconds(500)) }
                return .text(String(repeating: "x", count: 5000))
            }
            var configuration = HTTPClient.Configuration()
            configuration.readTimeout = .milliseconds(100)
            configuration.maxBodyBytes = 1000
            let client = HTTPClient(configuration: configuration)
            let base = "http://127.0.0.1:\(address.port)"
            do {
                _ = try await client.get("\(base)/slow")
                XCTFail()
            } catch is TimeoutError {}
            do {
                _ = try await client.get("\(base)/big")
                XCTFail()
            } catch let error as HTTPClientError {
                XCTAssertEqual(error, .bodyTooLarge(limit: 1000))
            }
            do {
                _ = try await client.get("ftp://example.org/")
                XCTFail()
            } catch let error as HTTPClientError {
                XCTAssertEqual(error, .invalidURL("ftp://example.org/"))
            }
            // A server that answers garbage, and one that closes mid-body.
            let rogue = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN {
                let (first, _) = try await rogue.accept()
                _ = try await first.receive()
                try await first.sendAll("\u{0}\u{1} not http\r\n\r\n")
                first.close()
                let (second, _) = try await rogue.accept()
                _ = try await second.receive()
                try await second.sendAll("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
                second.close()
            }
            let rogueBase = "http://127.0.0.1:\(rogue.localAddress!.port)"
            do {
                _ = try await client.get("\(rogueBase)/")
                XCTFail()
            } catch let error as HTTPClientError {
                guard case .malformedResponse = error else { return XCTFail("\(error)") }
            }
            do {
                _ = try await client.get("\(rogueBase)/")
                XCTFail()
            } catch let error as HTTPClientError {
                XCTAssertEqual(error, .incompleteResponse)
            }
            rogue.close()
            await server.stop()
        }
    }

    /// A server that sends more than the response (found by scripts/fuzz): the response is
    /// returned as it is, and the connection is not reused, since what follows would be misread
    /// as the next response.
    func testBytesAfterAResponseAreNotTakenForTheNextOne() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN {
                while let (connection, _) = try? await listener.accept() {
                    spawnN {
                        while case let request = try await connection.receive(), !request.isEmpty {
                            try await connection.sendAll("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK")
                        }
                    }
                }
            }
            let client = HTTPClient()
            let base = "http://127.0.0.1:\(listener.localAddress!.port)/"
            let first = try await client.get(base)
            let second = try await client.get(base)
            XCTAssertEqual([first.text, second.text], ["ok", "ok"])
            XCTAssertEqual(client.connectionsOpened, 2, "the connection with junk after its response was dropped")
            listener.close()
        }
    }
}

final class HTTPSTests: XCTestCase {
    func testHTTPSWithVerificationBothWays() throws {
        try green {
            let directory = NSTemporaryDirectory() + "evy-https-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let (certificate, key) = (directory + "/cert.pem", directory + "/key.pem")
            let (status, _, _) = try await ChildProcess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                ], timeout: .seconds(30))
            XCTAssertTrue(status.succeeded)
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration) { request, _ in .text("secure \(request.path)") }
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let context = try TLSContext.server(certificateFile: certificate, keyFile: key)
            spawnN { try await server.serveTLS(listener, context: context) }
            let url = "https://localhost:\(listener.localAddress!.port)/hello"
            var trusting = HTTPClient.Configuration()
            trusting.tls = try TLSContext.client(caFile: certificate)
            let client = HTTPClient(configuration: trusting)
            let page = try await client.get(url)
            XCTAssertEqual(page.text, "secure /hello")
            let again = try await client.get(url)
            XCTAssertEqual(again.text, "secure /hello")
            XCTAssertEqual(client.connectionsOpened, 1, "TLS connections are kept alive too")
            do {
                _ = try await HTTPClient().get(url)
                XCTFail("an unknown CA must not verify")
            } catch is TLSError {}
            client.close()
            await server.stop()
        }
    }
}
