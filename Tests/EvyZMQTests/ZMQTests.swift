import Evy
import EvyTestSupport
import EvyZMQ
import Foundation
import Glibc
import XCTest

final class ZMQPatternTests: XCTestCase {
    func testPushPullOverInprocAndTCPWithManyGreenThreads() throws {
        for transport in ["inproc", "tcp"] {
            let received = try green { () -> [Int] in
                let pull = try ZMQSocket(.pull)
                let endpoint: String
                if transport == "tcp" {
                    try pull.bind("tcp://127.0.0.1:*")
                    endpoint = pull.lastEndpoint!
                } else {
                    endpoint = inproc()
                    try pull.bind(endpoint)
                }
                let push = try ZMQSocket(.push)
                try push.connect(endpoint)
                // Ten green threads share the PUSH socket, ten share the PULL socket.
                for sender in 0..<10 {
                    spawnN { for i in 0..<100 { try await push.send("\(sender * 100 + i)") } }
                }
                let pile = GreenPile<[Int]>(size: 10)
                for _ in 0..<10 {
                    try await pile.spawn {
                        var mine: [Int] = []
                        for _ in 0..<100 { mine.append(Int(try await pull.receiveString(timeout: .seconds(10)))!) }
                        return mine
                    }
                }
                var all: [Int] = []
                for try await mine in pile { all += mine }
                push.close(linger: .zero)
                pull.close()
                return all.sorted()
            }
            XCTAssertEqual(received, Array(0..<1000), transport)
        }
    }

    func testRequestReplyAndOutOfOrderUse() throws {
        try green {
            let rep = try ZMQSocket(.rep)
            try rep.bind("tcp://127.0.0.1:*")
            let req = try ZMQSocket(.req)
            try req.connect(rep.lastEndpoint!)
            spawnN {
                while true {
                    let question = try await rep.receiveString()
                    try await rep.send("echo: " + question)
                }
            }
            for i in 0..<20 {
                try await req.send("q\(i)")
                let answer = try await req.receiveString(timeout: .seconds(5))
                XCTAssertEqual(answer, "echo: q\(i)")
            }
            // REQ must alternate: a second send before a receive is refused, clearly.
            try await req.send("first")
            do {
                try await req.send("second")
                XCTFail("expected EFSM")
            } catch let error as ZMQError {
                XCTAssertEqual(error.code, ZMQError.EFSM)
            }
            let answer = try await req.receiveString(timeout: .seconds(5))
            XCTAssertEqual(answer, "echo: first")
            req.close(linger: .zero)
            rep.close(linger: .zero)
        }
    }

    func testPublishSubscribeWithPrefixes() throws {
        try green {
            let pub = try ZMQSocket(.pub)
            try pub.bind("tcp://127.0.0.1:*")
            let sub = try ZMQSocket(.sub)
            try sub.subscribe("weather.")
            try sub.connect(pub.lastEndpoint!)
            // Subscriptions travel to the publisher in the background: publish until one arrives.
            let publisher = spawn {
                var n = 0
                while true {
                    try await pub.send("news.\(n)")
                    try await pub.send("weather.\(n)")
                    n += 1
                    try await sleep(for: .milliseconds(5))
                }
            }
            var seen: [String] = []
            for _ in 0..<5 { seen.append(try await sub.receiveString(timeout: .seconds(10))) }
            publisher.cancel()
            XCTAssertTrue(seen.allSatisfy { $0.hasPrefix("weather.") }, "\(seen)")
            pub.close(linger: .zero)
            sub.close(linger: .zero)
        }
    }

    func testRouterDealerEnvelopesAndRouterMandatory() throws {
        try green {
            let router = try ZMQSocket(.router)
            try router.setRouterMandatory(true)
            try router.bind("tcp://127.0.0.1:*")
            let dealer = try ZMQSocket(.dealer)
            try dealer.setRoutingID(Array("worker-1".utf8))
            try dealer.connect(router.lastEndpoint!)
            try await dealer.sendMultipart([Array("hello".utf8), Array("world".utf8)])
            let message = try await router.receiveMultipart(timeout: .seconds(5))
            XCTAssertEqual(message.map(\.text), ["worker-1", "hello", "world"])
            try await router.sendMultipart([message[0], Array("reply".utf8)])
            let reply = try await dealer.receiveMultipart(timeout: .seconds(5))
            XCTAssertEqual(reply.map(\.text), ["reply"])
            do {
                try await router.sendMultipart([Array("nobody".utf8), Array("x".utf8)])
                XCTFail("expected EHOSTUNREACH")
            } catch let error as ZMQError {
                XCTAssertEqual(error.code, EHOSTUNREACH)
            }
            router.close(linger: .zero)
            dealer.close(linger: .zero)
        }
    }

    func testMultipartMessagesOfConcurrentSendersNeverInterleave() throws {
        let messages = try green { () -> [[String]] in
            let pull = try ZMQSocket(.pull)
            let endpoint = inproc()
            try pull.bind(endpoint)
            let push = try ZMQSocket(.push)
            try push.setHighWaterMarks(send: 2)  // senders wait mid-stream
            try push.connect(endpoint)
            for sender in 0..<5 {
                spawnN {
                    for i in 0..<50 {
                        try await push.sendMultipart((0..<4).map { Array("s\(sender)m\(i)p\($0)".utf8) })
                    }
                }
            }
            var messages: [[String]] = []
            for _ in 0..<250 { messages.append(try await pull.receiveMultipart(timeout: .seconds(10)).map(\.text)) }
            push.close(linger: .zero)
            pull.close()
            return messages
        }
        XCTAssertEqual(messages.count, 250)
        for message in messages {
            XCTAssertEqual(message.count, 4)
            let stem = message[0].dropLast(2)
            XCTAssertEqual(message, (0..<4).map { "\(stem)p\($0)" }, "parts of one message stay together")
        }
    }
}

final class ZMQFaultTests: XCTestCase {
    func testTimeoutsCancellationAndNonBlockingForms() throws {
        try green {
            let pull = try ZMQSocket(.pull)
            try pull.bind(inproc())
            do {
                _ = try await pull.receive(timeout: .milliseconds(20))
                XCTFail()
            } catch is TimeoutError {}
            pull.receiveTimeout = .milliseconds(10)
            do {
                _ = try await pull.receive()
                XCTFail()
            } catch is TimeoutError {}
            do {
                _ = try pull.receiveNowait()
                XCTFail()
            } catch let error as ZMQError { XCTAssertTrue(error.wouldBlock) }
            pull.receiveTimeout = nil
            let waiter = spawn { try await pull.receive() }
            try await sleep(for: .milliseconds(5))
            await waiter.kill()
            do {
                _ = try await waiter.wait()
                XCTFail()
            } catch is CancellationError {}
            let fallback = try await withTimeout(.milliseconds(10), orElse: [UInt8]()) { try await pull.receive() }
            XCTAssertEqual(fallback, [])
            // A PUSH with no peer cannot send: it waits, so a timeout fires.
            let push = try ZMQSocket(.push)
            do {
                try await push.send("nobody", timeout: .milliseconds(20))
                XCTFail()
            } catch is TimeoutError {}
            do {
                try push.sendNowait([1])
                XCTFail()
            } catch let error as ZMQError { XCTAssertTrue(error.wouldBlock) }
            push.close(linger: .zero)
            pull.close()
        }
    }

    func testClosingASocketWakesItsWaitersAndLaterUseFails() throws {
        try green {
            let pull = try ZMQSocket(.pull)
            try pull.bind(inproc())
            let waiters = (0..<3).map { _ in spawn { try await pull.receive() } }
            try await sleep(for: .milliseconds(5))
            pull.close()
            for waiter in waiters {
                do {
                    _ = try await waiter.wait(timeout: .seconds(5))
                    XCTFail()
                } catch let error as ZMQError {
                    XCTAssertEqual(error.code, ENOTSOCK)
                }
            }
            do {
                try await pull.send("x")
                XCTFail()
            } catch let error as ZMQError { XCTAssertEqual(error.code, ENOTSOCK) }
            XCTAssertTrue(pull.isClosed)
            pull.close()  // idempotent
        }
    }

    func testSendingOnASocketDoesNotStrandItsReceiver() throws {
        // A send consumes ZMQ_FD's edge; without re-reading ZMQ_EVENTS after it, the
        // green thread waiting to receive on the same socket stays parked for ever.
        let echoed = try green { () -> Int in
            let server = try ZMQSocket(.dealer)
            let endpoint = inproc()
            try server.bind(endpoint)
            let client = try ZMQSocket(.dealer)
            try client.connect(endpoint)
            spawnN { while true { try await server.send(try await server.receive()) } }
            let receiver = spawn { () async throws -> Int in
                for _ in 0..<500 { _ = try await client.receive(timeout: .seconds(10)) }
                return 500
            }
            for i in 0..<500 {
                try await client.send("\(i)")
                if i % 7 == 0 { try await sleep(for: .zero) }
            }
            let count = try await receiver.wait()
            client.close(linger: .zero)
            server.close(linger: .zero)
            return count
        }
        XCTAssertEqual(echoed, 500)
    }

    func testIdleSocketWhosePeerWentAwayCostsNoCPU() throws {
        let cpu = try green { () -> Double in
            let sub = try ZMQSocket(.sub)
            try sub.subscribe()
            let pub = try ZMQSocket(.pub)
            try pub.bind("tcp://127.0.0.1:*")
            try sub.connect(pub.lastEndpoint!)
            let waiter = spawn { try await sub.receive() }
            try await sleep(for: .milliseconds(50))
            pub.close(linger: .zero)  // the peer goes away; the subscriber keeps waiting
            let before = processCPUSeconds()
            try await sleep(for: .seconds(1))
            let used = processCPUSeconds() - before
            waiter.cancel()
            sub.close(linger: .zero)
            return used
        }
        XCTAssertLessThan(cpu, 0.3, "an idle socket must not spin (used \(cpu) s of CPU in 1 s)")
    }

    func testOversizedMessagesAndGarbageFromTCPClientsAffectNobodyElse() throws {
        try green {
            let pull = try ZMQSocket(.pull)
            try pull.setMaxMessageSize(1024)
            try pull.bind("tcp://127.0.0.1:*")
            let endpoint = pull.lastEndpoint!
            // A peer that sends more than the limit is disconnected; its message never arrives.
            let big = try ZMQSocket(.push)
            try big.connect(endpoint)
            try await big.send([UInt8](repeating: 1, count: 4096))
            // A TCP client speaking garbage to the bound endpoint.
            let port = Int(endpoint.split(separator: ":").last!)!
            let garbage = try await connect(to: SocketAddress(ip: "127.0.0.1", port: port), timeout: .seconds(5))
            try await garbage.sendAll([UInt8](repeating: 0xFF, count: 64) + Array("GET / HTTP/1.0\r\n\r\n".utf8))
            // A well-behaved peer is still served.
            let good = try ZMQSocket(.push)
            try good.connect(endpoint)
            try await good.send("fine")
            let first = try await pull.receiveString(timeout: .seconds(5))
            XCTAssertEqual(first, "fine")
            do {
                _ = try await pull.receive(timeout: .milliseconds(100))
                XCTFail("the oversized message arrived")
            } catch is TimeoutError {}
            garbage.close()
            for socket in [big, good, pull] { socket.close(linger: .zero) }
        }
    }
}

func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

final class ZMQMoreSocketTypesTests: XCTestCase {
    func testPairXPubXSubAndStream() throws {
        try green {
            // PAIR: one to one, both ways.
            let (left, right) = (try ZMQSocket(.pair), try ZMQSocket(.pair))
            let endpoint = inproc()
            try left.bind(endpoint)
            try right.connect(endpoint)
            try await left.send("ping")
            let ping = try await right.receiveString(timeout: .seconds(5))
            try await right.send("pong")
            let pong = try await left.receiveString(timeout: .seconds(5))
            XCTAssertEqual([ping, pong], ["ping", "pong"])

            // XPUB sees subscriptions as messages (1 + topic); XSUB subscribes by sending them.
            let xpub = try ZMQSocket(.xpub)
            try xpub.bind("tcp://127.0.0.1:*")
            let xsub = try ZMQSocket(.xsub)
            try xsub.connect(xpub.lastEndpoint!)
            try await xsub.send([1] + Array("topic".utf8))
            let subscription = try await xpub.receive(timeout: .seconds(5))
            XCTAssertEqual(subscription, [1] + Array("topic".utf8))
            try await xpub.send("topic: news")
            let news = try await xsub.receiveString(timeout: .seconds(5))
            XCTAssertEqual(news, "topic: news")

            // STREAM: a plain TCP client; each message is [routing id, data].
            let stream = try ZMQSocket(.stream)
            try stream.bind("tcp://127.0.0.1:*")
            let port = Int(stream.lastEndpoint!.split(separator: ":").last!)!
            let client = try await connect(to: SocketAddress(ip: "127.0.0.1", port: port), timeout: .seconds(5))
            let notification = try await stream.receiveMultipart(timeout: .seconds(5))
            XCTAssertEqual(notification.count, 2)
            XCTAssertTrue(notification[1].isEmpty, "a connection is announced with an empty frame")
            try await client.sendAll("raw bytes")
            let message = try await stream.receiveMultipart(timeout: .seconds(5))
            XCTAssertEqual(message.map(\.text), [notification[0].text, "raw bytes"])
            try await stream.sendMultipart([message[0], Array("reply".utf8)])
            let reply = try await client.receive(timeout: .seconds(5))
            XCTAssertEqual(reply.text, "reply")
            client.close()
            for socket in [left, right, xpub, xsub, stream] { socket.close(linger: .zero) }
        }
    }
}
