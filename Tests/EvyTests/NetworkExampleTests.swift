import EvyTestSupport
import Foundation
import Glibc
import XCTest

@testable import Evy

/// A running example program whose output is read line by line without blocking the hub.
final class ExampleProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private var pending = Data()

    init(_ example: String, _ arguments: [String]) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("example-\(example)")
        process.executableURL = binary
        process.arguments = arguments
        process.standardOutput = output
        try process.run()
    }

    /// The next line the program prints (nil at its end), read on a tpool thread.
    func nextLine() async throws -> String? {
        try await tpool.execute { [self] in
            while true {
                if let newline = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[..<newline], as: UTF8.self)
                    pending.removeSubrange(...newline)
                    return line
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                pending.append(chunk)
            }
        }
    }

    /// Reads lines until one contains `text`; returns it.
    func waitFor(_ text: String) async throws -> String {
        while let line = try await nextLine() {
            if line.contains(text) { return line }
        }
        throw Boom(code: -1)
    }

    func stop() {
        if process.isRunning { process.interrupt() }
        process.waitUntilExit()
    }
}

func port(in line: String) -> Int { Int(line.split(separator: " ").last ?? "") ?? 0 }

final class NetworkExampleTests: XCTestCase {
    func testEchoServerExample() throws {
        try green {
            let server = try ExampleProcess("echo-server", ["0"])
            defer { server.stop() }
            let port = port(in: try await withTimeout(.seconds(10)) { try await server.waitFor("listening on port") })
            let client = try await connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
            let stream = client.buffered()
            try await stream.write("hello\nworld\n")
            try await stream.flush()
            let first = try await stream.readLine(timeout: .seconds(5))
            let second = try await stream.readLine(timeout: .seconds(5))
            XCTAssertEqual([first, second], ["hello", "world"])
            client.close()
            _ = try await withTimeout(.seconds(10)) { try await server.waitFor("client disconnected") }
            server.process.interrupt()  // SIGINT: the server stops gracefully
            _ = try await withTimeout(.seconds(10)) { try await server.waitFor("server stopped") }
        }
    }

    func testChatServerExampleBroadcastsToOthers() throws {
        try green {
            let server = try ExampleProcess("chat-server", ["0"])
            defer { server.stop() }
            let port = port(in: try await withTimeout(.seconds(10)) { try await server.waitFor("listening on port") })
            let alice = try await connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
            _ = try await withTimeout(.seconds(10)) { try await server.waitFor("joined") }
            let bob = try await connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
            _ = try await withTimeout(.seconds(10)) { try await server.waitFor("joined") }
            try await alice.sendAll("hi bob\n")
            let heard = try await bob.buffered().readLine(timeout: .seconds(5))
            XCTAssertEqual(heard, "hi bob")
            do {
                _ = try await alice.receive(timeout: .milliseconds(50))
                XCTFail("no echo to the sender")
            } catch is TimeoutError {}
            alice.close()
            bob.close()
        }
    }

    func testForwarderAndConnectExamples() throws {
        try green {
            let echo = try startEchoServer()
            let echoPort = echo.localAddress!.port
            let forwarder = try ExampleProcess("forwarder", ["0", "127.0.0.1:\(echoPort)"])
            defer { forwarder.stop() }
            let port = port(
                in: try await withTimeout(.seconds(10)) {
                    try await forwarder.waitFor("forwarding port")
                }.components(separatedBy: " to ")[0])
            let client = try await connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
            try await client.sendAll("through the forwarder")
            let reply = try await client.buffered().readExactly(21, timeout: .seconds(5))
            XCTAssertEqual(String(decoding: reply, as: UTF8.self), "through the forwarder")
            client.close()
            _ = try await withTimeout(.seconds(10)) { try await forwarder.waitFor("called back") }

            // connect.py against two local servers, one of them down: results in the order given.
            let down = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let downPort = down.localAddress!.port
            down.close()
            let connector = try ExampleProcess("connect", ["127.0.0.1:\(echoPort)", "127.0.0.1:\(downPort)"])
            defer { connector.stop() }
            let first = try await withTimeout(.seconds(10)) { try await connector.waitFor("127.0.0.1:\(echoPort): ") }
            XCTAssertTrue(first.contains("GET / HTTP/1.0"), first)
            let second = try await withTimeout(.seconds(10)) { try await connector.waitFor("127.0.0.1:\(downPort): ") }
            XCTAssertTrue(second.contains("failed"), second)
            echo.close()
        }
    }

    func testSSLEchoServerExample() throws {
        try green {
            let server = try ExampleProcess("ssl-echo-server", ["0"])
            defer { server.stop() }
            let port = port(in: try await withTimeout(.seconds(30)) { try await server.waitFor("listening on port") })
            let socket = try await connect(host: "127.0.0.1", port: port, timeout: .seconds(5))
            let tls = try await wrapTLS(
                socket, context: try TLSContext.client(verifyPeer: false), serverName: "localhost")
            let stream = tls.buffered()
            try await stream.write("secret\n")
            try await stream.flush()
            let reply = try await stream.readLine(timeout: .seconds(5))
            XCTAssertEqual(reply, "secret")
            tls.close()
            server.process.interrupt()
            _ = try await withTimeout(.seconds(10)) { try await server.waitFor("server stopped") }
        }
    }
}
