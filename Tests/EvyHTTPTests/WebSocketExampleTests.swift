import Evy
import EvyHTTP
import EvyTestSupport
import Foundation
import XCTest

/// The path of `example-NAME`, built beside the test bundle.
func exampleBinary(_ example: String) -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("example-\(example)").path
}

/// Starts `example-NAME 0` (an HTTP example) and returns it, its output and the port from its banner.
func startExample(_ example: String) async throws -> (ChildProcess, BufferedStream, Int) {
    let server = try ChildProcess([exampleBinary(example), "0"], standardInput: .discard, standardError: .inherit)
    let output = server.standardOutput!.buffered()
    let banner = try await output.readLine(timeout: .seconds(20)) ?? ""
    let port = Int(banner.split(separator: ":").last?.split(separator: "/").first ?? "") ?? 0
    XCTAssertGreaterThan(port, 0, banner)
    return (server, output, port)
}

/// Stops an example with SIGINT, as Ctrl-C would, and checks that it ended cleanly.
func stopExample(_ server: ChildProcess, _ output: BufferedStream) async throws {
    try server.kill(SIGINT)
    while let line = try await output.readLine(timeout: .seconds(10)), line != "server stopped" {}
    let status = try await server.wait(timeout: .seconds(10))
    XCTAssertEqual(status, .exited(0))
}

/// Runs the WebSocket examples of the reference documents as their users would: from our client
/// and from a real browser (headless Chromium, installed by scripts/setup).
final class WebSocketExampleTests: XCTestCase {
    func testWebSocketExampleServesPageEchoAndData() throws {
        try green {
            let (server, output, port) = try await startExample("websocket")
            defer { try? server.kill(SIGKILL) }
            let page = try await HTTPClient().get("http://127.0.0.1:\(port)/")
            XCTAssertEqual(page.status, 200)
            XCTAssertTrue(page.text.contains("new WebSocket(url(\"/data\"))"))

            let echo = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/echo")
            try await echo.send("hello")
            try await echo.send([1, 2, 3])
            let first = try await echo.receive(timeout: .seconds(5))
            let second = try await echo.receive(timeout: .seconds(5))
            XCTAssertEqual(first, .text("hello"))
            XCTAssertEqual(second, .binary([1, 2, 3]))

            let data = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/data")
            for i in 0..<3 {
                guard case .text(let line)? = try await data.receive(timeout: .seconds(5)) else {
                    return XCTFail("no line")
                }
                let fields = line.split(separator: " ")
                XCTAssertEqual(fields.count, 3, line)
                XCTAssertEqual(fields.first, "0")
                XCTAssertEqual(fields.dropFirst().first.flatMap { Int($0) }, i)
                XCTAssertTrue(
                    (0..<1).contains(Double(fields.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1),
                    line)
            }
            // Both sockets are still open: stopping closes them after the grace period.
            try await stopExample(server, output)
            let after = try? await data.receive(timeout: .seconds(5))
            XCTAssertNil(after ?? nil, "the server closed the stream when it stopped")
        }
    }

    func testChatExampleBroadcastsToEveryParticipant() throws {
        try green {
            let (server, output, port) = try await startExample("websocket-chat")
            defer { try? server.kill(SIGKILL) }
            let alice = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/chat")
            let bob = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/chat")
            for _ in 0..<2 { _ = try await output.readLine(timeout: .seconds(5)) }  // both joined
            try await alice.send("hi from alice")
            let toBob = try await bob.receive(timeout: .seconds(5))
            let toAlice = try await alice.receive(timeout: .seconds(5))
            XCTAssertEqual(toBob, .text("hi from alice"))
            XCTAssertEqual(toAlice, .text("hi from alice"))
            await bob.close()
            let left = try await output.readLine(timeout: .seconds(5))
            XCTAssertEqual(left, "Participant left chat.")
            try await alice.send("still here")
            let echoed = try await alice.receive(timeout: .seconds(5))
            XCTAssertEqual(echoed, .text("still here"), "a departed participant does not break the room")
            try await stopExample(server, output)
        }
    }

    /// A real browser loads the chat page, runs its script, opens the WebSocket and speaks.
    func testChatExampleWithHeadlessChromium() throws {
        guard
            let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: {
                FileManager.default.isExecutableFile(atPath: $0)
            })
        else { return XCTFail("chromium is not installed: scripts/setup (run by scripts/test) installs it") }
        try green {
            let (server, output, port) = try await startExample("websocket-chat")
            defer { try? server.kill(SIGKILL) }
            let listener = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/chat")
            let profile = FileManager.default.temporaryDirectory.appendingPathComponent("evy-chromium-\(getpid())").path
            let browser = try ChildProcess(
                [
                    chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-dev-shm-usage",
                    "--user-data-dir=\(profile)", "--remote-debugging-port=0",
                    "http://127.0.0.1:\(port)/?name=chromium",
                ],
                standardInput: .discard, standardOutput: .discard, standardError: .discard)
            defer {
                try? browser.kill(SIGKILL)
                try? FileManager.default.removeItem(atPath: profile)
            }
            let announced = try await listener.receive(timeout: .seconds(60))
            XCTAssertEqual(announced, .text("chromium joined"))
            try browser.kill(SIGTERM)
            _ = try await browser.wait(timeout: .seconds(20))
            await listener.close()
            try await stopExample(server, output)
        }
    }
}
