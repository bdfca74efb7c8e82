import Evy
import EvyHTTP
import EvyTestSupport
import Glibc
import XCTest

/// Idle and slow connections must not keep a new client waiting: at its limit the server closes
/// the connection idle the longest, and the default limit is sized for many parked connections.
final class IdleConnectionTests: XCTestCase {
    /// A keep-alive connection that made one request and now sits idle.
    private static func idleKeepAlive(to address: SocketAddress) async throws -> (Socket, BufferedStream) {
        let socket = try await connect(to: address)
        try await socket.sendAll("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
        let reader = socket.buffered()
        let response = try await readResponse(reader)
        XCTAssertEqual(response?.status, 200)
        return (socket, reader)
    }

    func testAtTheLimitTheLongestIdleConnectionMakesRoomForANewClient() throws {
        try green {
            let (server, address) = try startServer({ $0.concurrency = 20 }) { request, _ in .text("ok \(request.path)") }
            var idle: [(Socket, BufferedStream)] = []
            for _ in 0..<19 { idle.append(try await Self.idleKeepAlive(to: address)) }
            // Five new clients, one after another, each staying connected: each is answered, each
            // time the connection idle the longest is closed to make room.
            var newcomers: [Socket] = []
            defer { for socket in newcomers { socket.close() } }
            for n in 0..<5 {
                let socket = try await connect(to: address)
                newcomers.append(socket)
                try await socket.sendAll("GET /new\(n) HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try await readResponse(socket.buffered())
                XCTAssertEqual(response?.body, "ok /new\(n)")
            }
            for (index, (socket, reader)) in idle.enumerated() {
                defer { socket.close() }
                if index < 5 {
                    let rest = try await reader.read(timeout: .seconds(5))
                    XCTAssertEqual(rest, [], "the connection idle longest (#\(index)) was closed")
                } else {
                    try await socket.sendAll("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
                    let response = try await readResponse(reader)
                    XCTAssertEqual(response?.status, 200, "#\(index), idle for less long, was kept")
                }
            }
            await server.stop(grace: .zero)
        }
    }

    /// As a new user tries it: `example-http-hello` with its defaults, 10,000 connections parked
    /// on it (4,000 idle keep-alive, 3,000 silent since they connected, 3,000 sending a request
    /// head a byte at a time and stopping half-way), then one more client: answered at once.
    func testANewClientIsAnsweredWithTenThousandIdleAndSlowlorisConnectionsOpen() throws {
        try XCTSkipIf(Self.descriptorLimit() < 10_500, "needs 10,500 file descriptors (ulimit -n)")
        try green(deadline: .seconds(120)) {
            let (server, output, port) = try await startExample("http-hello")
            defer { try? server.kill(SIGKILL) }
            spawnN { while (try? await output.readLine(timeout: nil)) != nil {} }  // its post-hook lines
            let address = try SocketAddress(ip: "127.0.0.1", port: port)
            var parked: [Socket] = []
            defer { for socket in parked { socket.close() } }
            let pool = GreenPool(size: 100)
            let opened = Box<[Socket]>([])
            for n in 0..<10_000 {
                try await pool.spawn {
                    let socket = try await connect(to: address)
                    opened.value.append(socket)
                    switch n % 10 {
                    case 0..<4:
                        try await socket.sendAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                        let response = try await readResponse(socket.buffered())
                        XCTAssertEqual(response?.status, 200)
                    case 4..<7: break  // silent
                    default: try await socket.sendAll("GET / HTTP/1.1\r\nHost: x\r\nUser-Ag")  // and no more
                    }
                }
            }
            try await pool.waitAll()
            parked = opened.value
            XCTAssertEqual(parked.count, 10_000)

            let socket = try await connect(to: address, timeout: .seconds(5))
            defer { socket.close() }
            try await socket.sendAll("GET /new HTTP/1.1\r\nHost: x\r\n\r\n", timeout: .seconds(5))
            let response = try await withTimeout(.seconds(5), label: "the new client's answer") {
                try await readResponse(socket.buffered())
            }
            XCTAssertEqual(response?.status, 200)
            XCTAssertEqual(response?.body, "Hello, World!\r\n")
        }
    }

    func testTheDefaultLimitLeavesRoomForTenThousandParkedConnections() {
        XCTAssertGreaterThanOrEqual(
            HTTPServer.Configuration.defaultConcurrency, min(10_000, Self.descriptorLimit() - 64),
            "sized by the descriptors the process may open")
    }

    private static func descriptorLimit() -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(clamping: limit.rlim_cur)
    }
}
