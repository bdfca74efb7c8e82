import Evy
import EvyHTTP
import EvyTestSupport
import XCTest

/// What a hostile or sloppy server sends must not crash the client, leak what the caller gave it,
/// repeat a POST, or leave a response behind for the next request (cases found in review).
final class ClientHardeningTests: XCTestCase {
    /// A server that answers each request on a connection with the next of `replies` (raw bytes,
    /// possibly in several writes), and counts the requests it read.
    private final class Scripted: @unchecked Sendable {
        let listener: Socket
        var requests: [String] = []
        /// Set each time the script hangs up.
        let hungUp = Flag()
        init(_ replies: @escaping @Sendable (String) -> [String]) throws {
            listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { [self] in
                while let (connection, _) = try? await listener.accept() {
                    spawnN { [self] in
                        let reader = connection.buffered()
                        while let line = try? await reader.readLine(timeout: .seconds(5)), !line.isEmpty {
                            var head = line
                            while let header = try? await reader.readLine(timeout: .seconds(5)), !header.isEmpty {
                                head += "\n" + header
                            }
                            requests.append(head)
                            for piece in replies(head) {
                                if piece == "CLOSE" {
                                    connection.close()
                                    hungUp.set()
                                    return
                                }
                                try? await connection.sendAll(piece)
                            }
                        }
                        connection.close()
                    }
                }
            }
        }
        var base: String { "http://127.0.0.1:\(listener.localAddress!.port)" }
    }

    func testRedirectsToOtherSchemesFailCleanlyAndCredentialsStayWithTheirOrigin() throws {
        try green {
            let other = try Scripted { head in
                let auth = head.lowercased().contains("authorization:") || head.lowercased().contains("cookie:")
                return ["HTTP/1.1 200 OK\r\nContent-Length: \(auth ? 6 : 5)\r\n\r\n\(auth ? "leaked" : "clean")"]
            }
            let first = try Scripted { head in
                if head.contains(" /mailto ") {
                    return ["HTTP/1.1 302 Found\r\nLocation: mailto:x@example.org\r\nContent-Length: 0\r\n\r\n"]
                }
                if head.contains(" /ftp ") {
                    return ["HTTP/1.1 302 Found\r\nLocation: ftp://127.0.0.1:21/x\r\nContent-Length: 0\r\n\r\n"]
                }
                if head.contains(" /away ") {
                    return ["HTTP/1.1 302 Found\r\nLocation: \(other.base)/x\r\nContent-Length: 0\r\n\r\n"]
                }
                if head.hasPrefix("POST /form ") {
                    return ["HTTP/1.1 303 See Other\r\nLocation: /form\r\nContent-Length: 0\r\n\r\n"]
                }
                return ["HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nform"]
            }
            let client = HTTPClient()
            for path in ["/mailto", "/ftp"] {
                do {
                    _ = try await client.get(first.base + path)
                    XCTFail("\(path) must fail")
                } catch let error as HTTPClientError {
                    guard case .invalidURL = error else { return XCTFail("\(error)") }
                }
            }
            let away = try await client.get(
                first.base + "/away", headers: [("Authorization", "Bearer secret"), ("Cookie", "id=1")])
            XCTAssertEqual(away.text, "clean", "credentials were not sent to another origin")
            // Post, then redirect to the same URL with GET: the usual pattern, not a loop.
            let posted = try await client.request("POST", first.base + "/form", body: Array("a=1".utf8))
            XCTAssertEqual(posted.text, "form")
            first.listener.close()
            other.listener.close()
        }
    }

    func testInterimResponsesAreSkippedAndBodylessStatusesNeverWait() throws {
        try green {
            let server = try Scripted { head in
                if head.contains(" /hints ") {
                    return [
                        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
                        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
                    ]
                }
                if head.contains(" /304 ") { return ["HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n"] }
                return ["HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"]
            }
            var configuration = HTTPClient.Configuration()
            configuration.readTimeout = .seconds(5)
            let client = HTTPClient(configuration: configuration)
            let hinted = try await client.get(server.base + "/hints")
            XCTAssertEqual([hinted.status], [200])
            XCTAssertEqual(hinted.text, "final")
            let notModified = try await withTimeout(.seconds(2)) { try await client.get(server.base + "/304") }
            XCTAssertEqual(notModified.status, 304)
            let next = try await client.get(server.base + "/next")
            XCTAssertEqual(next.text, "next", "nothing of the earlier responses was left for this one")
            XCTAssertEqual(client.connectionsOpened, 1)
            server.listener.close()
        }
    }

    func testAPostIsNeverSentTwice() throws {
        try green {
            let server = try Scripted { head in
                // Answers a GET and then hangs up without saying so; takes a POST and dies.
                if head.hasPrefix("GET") { return ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "CLOSE"] }
                return ["CLOSE"]
            }
            let client = HTTPClient()
            _ = try await client.get(server.base + "/")
            _ = try await server.hungUp.wait(timeout: .seconds(5))
            // The pooled connection is dead: the POST sees that before sending and opens another.
            do {
                _ = try await client.request("POST", server.base + "/pay", body: Array("1".utf8))
                XCTFail()
            } catch let error as HTTPClientError {
                XCTAssertEqual(error, .incompleteResponse)
            }
            XCTAssertEqual(server.requests.filter { $0.hasPrefix("POST") }.count, 1, "the POST went out once")
            server.listener.close()
        }
    }

    func testAPooledConnectionWithUnaskedBytesOrASwitchedProtocolIsNotReused() throws {
        try green {
            let server = try Scripted { head in
                if head.contains(" /late ") {
                    // Answers, then times the idle connection out with a 408 of its own.
                    return [
                        "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate",
                        "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "CLOSE",
                    ]
                }
                if head.contains(" /upgrade ") {
                    return ["HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\n"]
                }
                return ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh"]
            }
            let client = HTTPClient()
            _ = try await client.get(server.base + "/late")
            _ = try await server.hungUp.wait(timeout: .seconds(5))
            let next = try await client.get(server.base + "/next")
            XCTAssertEqual(next.text, "fresh", "the 408 meant for nobody was not taken as this answer")
            let switched = try await client.get(server.base + "/upgrade")
            XCTAssertEqual(switched.status, 101)
            let after = try await client.get(server.base + "/after")
            XCTAssertEqual(after.text, "fresh")
            XCTAssertEqual(client.connectionsOpened, 3, "neither the timed-out nor the switched connection was reused")
            server.listener.close()
        }
    }

    func testIdleConnectionsAreCapped() throws {
        try green {
            let servers = try (0..<3).map { _ in
                try Scripted { _ in ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"] }
            }
            var configuration = HTTPClient.Configuration()
            configuration.maxIdleConnections = 2
            let client = HTTPClient(configuration: configuration)
            for server in servers { _ = try await client.get(server.base + "/") }
            // The first host's connection was idle longest and was closed to stay under the cap.
            _ = try await client.get(servers[0].base + "/")
            _ = try await client.get(servers[2].base + "/")
            XCTAssertEqual(client.connectionsOpened, 4)
            for server in servers { server.listener.close() }
        }
    }
}
