import EvyTestSupport
import Foundation
import Glibc
import XCTest

@testable import Evy

/// An echo server on a free loopback port; returns its listener.
func startEchoServer(concurrency: Int = 100, host: String = "127.0.0.1") throws -> Socket {
    let listener = try listen(on: SocketAddress(ip: host, port: 0))
    spawnN {
        try await serve(listener, concurrency: concurrency) { client, _ in
            while true {
                let data = try await client.receive()
                if data.isEmpty { return }
                try await client.sendAll(data)
            }
        }
    }
    return listener
}

final class SocketTests: XCTestCase {
    func testTCPEchoWithManyConcurrentClients() throws {
        let replies = try green { () -> [String] in
            let listener = try startEchoServer()
            let address = listener.localAddress!
            XCTAssertNotEqual(address.port, 0)
            let pile = GreenPile<String>(size: 50)
            for i in 0..<50 {
                try await pile.spawn {
                    let client = try await connect(to: address, timeout: .seconds(5))
                    defer { client.close() }
                    try await client.sendAll("hello \(i)")
                    let stream = client.buffered()
                    return String(
                        decoding: try await stream.readExactly("hello \(i)".utf8.count, timeout: .seconds(5)),
                        as: UTF8.self)
                }
            }
            let replies = try await pile.collect()
            listener.close()
            return replies
        }
        XCTAssertEqual(replies, (0..<50).map { "hello \($0)" })
    }

    func testIPv6AndUnixDomainSockets() throws {
        try green {
            if let v6 = try? startEchoServer(host: "::1") {
                let client = try await connect(to: v6.localAddress!, timeout: .seconds(5))
                try await client.sendAll("six")
                let reply = try await client.receive(timeout: .seconds(5))
                XCTAssertEqual(String(decoding: reply, as: UTF8.self), "six")
                XCTAssertEqual(client.peerAddress?.family, AF_INET6)
                client.close()
                v6.close()
            }
            let path = NSTemporaryDirectory() + "evy-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
            defer { unlink(path) }
            let listener = try listen(on: SocketAddress(unixPath: path))
            let server = spawn { () async throws -> String in
                let (peer, _) = try await listener.accept(timeout: .seconds(5))
                defer { peer.close() }
                return String(decoding: try await peer.receive(timeout: .seconds(5)), as: UTF8.self)
            }
            let client = try await connect(to: SocketAddress(unixPath: path), timeout: .seconds(5))
            try await client.sendAll("over a path")
            let received = try await server.wait()
            XCTAssertEqual(received, "over a path")
            client.close()
            listener.close()
        }
    }

    func testUDPDatagrams() throws {
        try green {
            let receiver = try Socket(family: AF_INET, type: Int32(Glibc.SOCK_DGRAM.rawValue))
            try receiver.bind(to: SocketAddress(ip: "127.0.0.1", port: 0))
            let sender = try Socket(family: AF_INET, type: Int32(Glibc.SOCK_DGRAM.rawValue))
            let waiting = spawn { try await receiver.receiveFrom(timeout: .seconds(5)) }
            try await waitUntil("the receiver waits") { Hub.current.hasWaiter(on: receiver.fd) }
            try await sender.send(Array("datagram".utf8), to: receiver.localAddress!)
            let (bytes, from) = try await waiting.wait()
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "datagram")
            XCTAssertEqual(from?.host, "127.0.0.1")
            receiver.close()
            sender.close()
        }
    }

    func testTimeoutsAndRefusedConnections() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let address = listener.localAddress!
            let client = try await connect(to: address, timeout: .seconds(5))
            // A peer that connects and sends nothing: the read times out.
            do {
                _ = try await client.receive(timeout: .milliseconds(20))
                XCTFail()
            } catch is TimeoutError {}
            client.timeout = .milliseconds(10)
            do {
                _ = try await client.receive()
                XCTFail()
            } catch is TimeoutError {}
            listener.close()
            client.close()
            // Nobody listens any more: refused, not hung.
            do {
                _ = try await connect(to: address, timeout: .seconds(5))
                XCTFail("expected a refusal")
            } catch let error as SocketError {
                XCTAssertEqual(error.errno, ECONNREFUSED)
            }
        }
    }

    func testPeerResetAndHalfClose() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let server = spawn { () async throws -> (String, String) in
                let (first, _) = try await listener.accept(timeout: .seconds(5))
                // Half-close: the client stops sending; we still read what it sent, then EOF.
                let stream = first.buffered()
                let line = try await stream.readLine(timeout: .seconds(5)) ?? "nil"
                let end = try await stream.readLine(timeout: .seconds(5)) == nil ? "eof" : "more"
                try await first.sendAll("still open\n")
                first.close()
                // Reset: the peer aborts; the read reports it as an error.
                let (second, _) = try await listener.accept(timeout: .seconds(5))
                defer { second.close() }
                do {
                    _ = try await second.receive(timeout: .seconds(5))
                    return (line + "/" + end, "no error")
                } catch let error as SocketError {
                    return (line + "/" + end, error.errno == ECONNRESET ? "reset" : "\(error)")
                }
            }
            let first = try await connect(to: listener.localAddress!, timeout: .seconds(5))
            try await first.sendAll("last line\n")
            try first.shutdown(.write)
            let reply = try await first.buffered().readLine(timeout: .seconds(5))
            XCTAssertEqual(reply, "still open")
            first.close()

            let second = try await connect(to: listener.localAddress!, timeout: .seconds(5))
            var linger = linger(l_onoff: 1, l_linger: 0)
            setsockopt(second.fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
            try await sleep(for: .milliseconds(5))
            second.close()  // RST
            let (halfClose, reset) = try await server.wait(timeout: .seconds(5))
            XCTAssertEqual(halfClose, "last line/eof")
            XCTAssertEqual(reset, "reset")
            listener.close()
        }
    }

    func testClosingASocketWakesItsReader() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let client = try await connect(to: listener.localAddress!, timeout: .seconds(5))
            let reader = spawn { try await client.receive() }
            try await waitUntil("the reader waits") { Hub.current.hasWaiter(on: client.fd) }
            client.close()
            do {
                _ = try await reader.wait(timeout: .seconds(5))
                XCTFail()
            } catch let error as SocketError {
                XCTAssertEqual(error, .closed)
            }
            do {
                try await client.sendAll("x")
                XCTFail()
            } catch let error as SocketError {
                XCTAssertEqual(error, .closed)
            }
            listener.close()
        }
    }

    func testResolveLocalhostAndFailures() throws {
        try green {
            let addresses = try await resolve(host: "localhost", port: 80, timeout: .seconds(10))
            XCTAssertTrue(addresses.contains { $0.host == "127.0.0.1" || $0.host == "::1" }, "\(addresses)")
            XCTAssertTrue(addresses.allSatisfy { $0.port == 80 })
            let numeric = try await resolve(host: "10.1.2.3", port: 5)
            XCTAssertEqual(numeric.map(\.description), ["10.1.2.3:5"])
            do {
                _ = try await resolve(host: "no-such-host.invalid", port: 80, timeout: .seconds(10))
                XCTFail("an .invalid name must not resolve")
            } catch is SocketError {} catch is TimeoutError {}
            XCTAssertThrowsError(try SocketAddress(ip: "300.1.1.1", port: 1))
            XCTAssertThrowsError(try SocketAddress(ip: "127.0.0.1", port: 70000))
        }
    }

    func testConnectByHostName() throws {
        try green {
            let listener = try startEchoServer()
            let client = try await connect(host: "localhost", port: listener.localAddress!.port, timeout: .seconds(5))
            try await client.sendAll("by name")
            let reply = try await client.receive(timeout: .seconds(5))
            XCTAssertEqual(String(decoding: reply, as: UTF8.self), "by name")
            client.close()
            listener.close()
        }
    }
}

final class BufferedStreamTests: XCTestCase {
    /// A connected pair of sockets over loopback.
    private func pair() async throws -> (Socket, Socket) {
        let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
        defer { listener.close() }
        async let accepted = listener.accept(timeout: .seconds(5))
        let client = try await connect(to: listener.localAddress!, timeout: .seconds(5))
        return (client, try await accepted.0)
    }

    func testLinesExactReadsDelimitersAndLimits() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let acceptor = spawn { try await listener.accept(timeout: .seconds(5)).0 }
            let client = try await connect(to: listener.localAddress!, timeout: .seconds(5))
            let server = try await acceptor.wait()
            let stream = server.buffered(chunkSize: 7)  // small chunks: lines span reads
            try await client.sendAll(
                "first line\r\nsecond\nABCDEF--END--tail" + String(repeating: "x", count: 100) + "\npartial")
            let first = try await stream.readLine(timeout: .seconds(5))
            XCTAssertEqual(first, "first line")
            let second = try await stream.readLine(timeout: .seconds(5))
            XCTAssertEqual(second, "second")
            let exact = try await stream.readExactly(3, timeout: .seconds(5))
            XCTAssertEqual(exact, Array("ABC".utf8))
            let upTo = try await stream.readUntil(Array("--END--".utf8), timeout: .seconds(5))
            XCTAssertEqual(upTo.map { String(decoding: $0, as: UTF8.self) }, "DEF--END--")
            do {
                _ = try await stream.readLine(maxLength: 50, timeout: .seconds(5))
                XCTFail()
            } catch let error as SocketError {
                XCTAssertEqual(error, .tooLong(limit: 51))
            }
            client.close()
            server.close()
            listener.close()
        }
    }

    func testEOFInTheMiddleOfALineAndWrites() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let acceptor = spawn { try await listener.accept(timeout: .seconds(5)).0 }
            let client = try await connect(to: listener.localAddress!, timeout: .seconds(5))
            let server = try await acceptor.wait()
            let out = client.buffered()
            try await out.write("complete\nincompl")
            try await out.flush()
            client.close()
            let stream = server.buffered()
            let complete = try await stream.readLine(timeout: .seconds(5))
            XCTAssertEqual(complete, "complete")
            do {
                _ = try await stream.readLine(timeout: .seconds(5))
                XCTFail()
            } catch let error as SocketError {
                XCTAssertEqual(error, .unexpectedEOF)
            }
            // Nothing is lost: the partial line is still there for a plain read.
            let rest = try await stream.read(timeout: .seconds(5))
            XCTAssertEqual(String(decoding: rest, as: UTF8.self), "incompl")
            let after = try await stream.readLine(timeout: .seconds(5))
            XCTAssertNil(after, "the stream is at its end")
            server.close()
            listener.close()
        }
    }
}

final class ServeTests: XCTestCase {
    func testStopServeEndsTheServerAndHandlerErrorsSurface() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let address = listener.localAddress!
            let server = spawn {
                try await serve(listener) { client, _ in
                    let command = try await client.buffered().readLine(timeout: .seconds(5))
                    if command == "stop" { throw StopServe() }
                    if command == "fail" { throw Boom(code: 21) }
                    try await client.sendAll("ok\n")
                }
            }
            let ok = try await connect(to: address, timeout: .seconds(5))
            try await ok.sendAll("hello\n")
            let reply = try await ok.buffered().readLine(timeout: .seconds(5))
            XCTAssertEqual(reply, "ok")
            let stopper = try await connect(to: address, timeout: .seconds(5))
            try await stopper.sendAll("stop\n")
            try await server.wait(timeout: .seconds(5))  // returns normally

            let failing = spawn { try await serve(listener) { _, _ in throw Boom(code: 21) } }
            let victim = try await connect(to: address, timeout: .seconds(5))
            do {
                try await failing.wait(timeout: .seconds(5))
                XCTFail()
            } catch let error as Boom {
                XCTAssertEqual(error.code, 21)
            }
            victim.close()
            listener.close()
        }
    }

    func testConcurrencyLimitStopsAccepting() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let active = Box(0)
            let peak = Box(0)
            let release = Flag()
            spawnN {
                try await serve(listener, concurrency: 3) { client, _ in
                    active.value += 1
                    peak.value = max(peak.value, active.value)
                    defer { active.value -= 1 }
                    try await release.wait()
                    try await client.sendAll("done")
                }
            }
            var clients: [Socket] = []
            for _ in 0..<8 { clients.append(try await connect(to: listener.localAddress!, timeout: .seconds(5))) }
            try await waitUntil("three handlers run") { active.value >= 3 }
            XCTAssertEqual(active.value, 3, "only three handlers at once")
            release.set()
            for client in clients {
                let reply = try await client.receive(timeout: .seconds(5))
                XCTAssertEqual(String(decoding: reply, as: UTF8.self), "done")
                client.close()
            }
            XCTAssertEqual(peak.value, 3)
            listener.close()
        }
    }

    func testClosingTheListenerEndsServe() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let server = spawn { try await serve(listener) { _, _ in } }
            try await waitUntil("serve accepts") { Hub.current.hasWaiter(on: listener.fd) }
            listener.close()
            try await server.wait(timeout: .seconds(5))
        }
    }
}

final class DescriptorExhaustionTests: XCTestCase {
    /// The number of descriptors open in this process now.
    private static func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
    }

    func testServeBacksOffWhenTheDescriptorTableIsFullAndRecovers() throws {
        var original = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &original)
        let saved = original
        defer {
            var restore = saved
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &restore)
        }
        try green {
            let listener = try startEchoServer()
            let address = listener.localAddress!
            // Room for a few more descriptors only.
            var tight = saved
            tight.rlim_cur = rlim_t(Self.openDescriptors() + 6)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &tight)
            var clients: [Socket] = []
            // Connect until this process runs out: the server's accept fails with EMFILE first or
            // our own socket() does; either way the server must keep running, not spin or crash.
            while clients.count < 20 {
                guard let client = try? await connect(to: address, timeout: .seconds(2)) else { break }
                clients.append(client)
                try await sleep(for: .milliseconds(2))
            }
            XCTAssertGreaterThan(clients.count, 0)
            // Give the accept loop time to hit the limit and back off (it logs, sleeps, retries).
            try await sleep(for: .milliseconds(50))
            for client in clients { client.close() }
            var room = saved
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &room)
            // The server recovered: a new client is served.
            let client = try await connect(to: address, timeout: .seconds(5))
            try await client.sendAll("after the storm")
            let reply = try await client.receive(timeout: .seconds(5))
            XCTAssertEqual(String(decoding: reply, as: UTF8.self), "after the storm")
            client.close()
            listener.close()
        }
    }
}

final class SocketReviewRegressionTests: XCTestCase {
    func testClosingTheListenerEndsServeEvenAtTheConcurrencyLimit() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let handling = Flag()
            let server = spawn {
                try await serve(listener, concurrency: 1) { _, _ in
                    handling.set()
                    try await sleep(for: .seconds(60))
                }
            }
            let busy = try await connect(to: listener.localAddress!)
            try await handling.wait(timeout: .seconds(5))
            listener.close()
            try await server.wait(timeout: .seconds(5))
            busy.close()
        }
    }

    func testBadPortsAndAddressesAreErrorsNotCrashes() throws {
        try green {
            do {
                _ = try await connect(host: "127.0.0.1", port: 70000)
                XCTFail()
            } catch let error as SocketError {
                XCTAssertEqual(error, .invalidAddress("port 70000 out of range"))
            }
            let udp = try Socket(family: AF_UNIX, type: Int32(Glibc.SOCK_DGRAM.rawValue))
            let long = SocketAddress(unixPath: String(repeating: "x", count: 200))
            do {
                try await udp.send([1], to: long, timeout: .seconds(1))
                XCTFail()
            } catch is SocketError {}
            udp.close()
        }
    }

    func testANewWaiterSurvivesTheLateCleanupOfAnOldOne() throws {
        try green {
            var pair: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&pair), 0)
            let fds = pair
            defer {
                close(fds[0])
                close(fds[1])
            }
            let hub = Hub.current
            let first = spawn { try await hub.wait(for: .readable, on: fds[0]) }
            try await waitUntil("the first waits") { hub.hasWaiter(on: fds[0]) }
            first.cancel()  // finished, but its cleanup runs only when it is scheduled again
            let second = spawn { try await hub.wait(for: .readable, on: fds[0], timeout: .seconds(5)) }
            try await waitUntil("the first ended, the second waits") { first.isDone && hub.hasWaiter(on: fds[0]) }
            _ = "x".withCString { write(fds[1], $0, 1) }
            try await second.wait(timeout: .seconds(5))  // woken, not stranded
        }
    }
}
