import Evy
import EvyTestSupport
import EvyZMQ
import Foundation
import Glibc
import XCTest

final class ZMQPollerTests: XCTestCase {
    func testPollsSocketsAndDescriptorsTogether() throws {
        try green {
            let (a, b) = (try ZMQSocket(.pull), try ZMQSocket(.pull))
            let (endpointA, endpointB) = (inproc("a"), inproc("b"))
            try a.bind(endpointA)
            try b.bind(endpointB)
            let pushB = try ZMQSocket(.push)
            try pushB.connect(endpointB)
            let (reader, writer) = try GreenPipe.makePipe()
            let poller = ZMQPoller()
            poller.register(a)
            poller.register(b)
            poller.register(descriptor: reader.fd)
            let nothing = try await poller.poll(timeout: .milliseconds(20))
            XCTAssertTrue(nothing.isEmpty, "nothing is ready yet")
            spawnN {
                try await sleep(for: .milliseconds(5))
                try await pushB.send("for b")
            }
            let first = try await poller.poll(timeout: .seconds(5))
            XCTAssertEqual(first.map(\.item), [.socket(b)])
            let forB = try await b.receiveString()
            XCTAssertEqual(forB, "for b")
            spawnN {
                try await sleep(for: .milliseconds(5))
                try await writer.sendAll([1])
            }
            let second = try await poller.poll(timeout: .seconds(5))
            XCTAssertEqual(second.map(\.item), [.descriptor(reader.fd)])
            XCTAssertEqual(second.first?.events, .readable)
            for socket in [a, b, pushB] { socket.close(linger: .zero) }
            reader.close()
            writer.close()
        }
    }
}

final class ZMQMonitorTests: XCTestCase {
    func testMonitorReportsListeningAcceptedAndDisconnected() throws {
        try green {
            let server = try ZMQSocket(.rep)
            let monitor = try server.monitor()
            try server.bind("tcp://127.0.0.1:*")
            let listening = try await monitor.next(oneOf: [.listening], timeout: .seconds(5))
            XCTAssertEqual(listening.endpoint, server.lastEndpoint)
            let client = try ZMQSocket(.req)
            try client.connect(server.lastEndpoint!)
            let accepted = try await monitor.next(oneOf: [.accepted], timeout: .seconds(5))
            XCTAssertTrue(accepted.description.hasPrefix("accepted"), accepted.description)
            client.close(linger: .zero)
            _ = try await monitor.next(oneOf: [.disconnected], timeout: .seconds(5))
            monitor.close()
            server.close(linger: .zero)
        }
    }
}

final class ZMQCurveTests: XCTestCase {
    func testZAPAllowsKnownClientKeysAndRefusesOthers() throws {
        XCTAssertTrue(ZMQCurve.isAvailable, "Debian's libzmq is built with CURVE")
        try green {
            let serverKeys = try ZMQCurve.generateKeyPair()
            let known = try ZMQCurve.generateKeyPair()
            let stranger = try ZMQCurve.generateKeyPair()
            XCTAssertEqual(serverKeys.publicKey.count, 40)
            let auth = try ZAPAuthenticator(allowing: [known.publicKey])
            auth.start()
            let server = try ZMQSocket(.pull)
            try server.makeCurveServer(secretKey: serverKeys.secretKey)
            let monitor = try server.monitor()
            try server.bind("tcp://127.0.0.1:*")
            let endpoint = server.lastEndpoint!

            let good = try ZMQSocket(.push)
            try good.makeCurveClient(serverPublicKey: serverKeys.publicKey, keyPair: known)
            try good.connect(endpoint)
            try await good.send("encrypted hello")
            let received = try await server.receiveString(timeout: .seconds(10))
            XCTAssertEqual(received, "encrypted hello")

            let bad = try ZMQSocket(.push)
            try bad.makeCurveClient(serverPublicKey: serverKeys.publicKey, keyPair: stranger)
            try bad.connect(endpoint)
            try? await bad.send("let me in", timeout: .milliseconds(500))
            let refused = try await monitor.next(oneOf: [.handshakeFailedAuth], timeout: .seconds(10))
            XCTAssertEqual(refused.event, .handshakeFailedAuth)
            do {
                _ = try await server.receive(timeout: .milliseconds(200))
                XCTFail("the stranger got through")
            } catch is TimeoutError {}
            XCTAssertGreaterThanOrEqual(auth.accepted, 1)
            XCTAssertGreaterThanOrEqual(auth.refused, 1)
            monitor.close()
            for socket in [good, bad, server] { socket.close(linger: .zero) }
            await auth.stop()
        }
    }
}

final class ZMQProxyTests: XCTestCase {
    func testProxyForwardsCapturesPausesAndStops() throws {
        try green {
            let (front, back, capture) = (inproc("front"), inproc("back"), inproc("capture"))
            let frontend = try ZMQSocket(.pull)
            let backend = try ZMQSocket(.push)
            let tap = try ZMQSocket(.push)
            try frontend.bind(front)
            try backend.bind(back)
            try tap.bind(capture)
            let producer = try ZMQSocket(.push)
            let consumer = try ZMQSocket(.pull)
            let captured = try ZMQSocket(.pull)
            try producer.connect(front)
            try consumer.connect(back)
            try captured.connect(capture)
            let proxy = ZMQProxy(frontend: frontend, backend: backend, capture: tap)
            proxy.start()
            try await producer.send("one")
            let one = try await consumer.receiveString(timeout: .seconds(5))
            let copy = try await captured.receiveString(timeout: .seconds(5))
            XCTAssertEqual([one, copy], ["one", "one"])
            proxy.pause()
            try await producer.send("two")
            do {
                _ = try await consumer.receive(timeout: .milliseconds(50))
                XCTFail("paused")
            } catch is TimeoutError {}
            proxy.resume()
            let two = try await consumer.receiveString(timeout: .seconds(5))
            XCTAssertEqual(two, "two")
            await proxy.stop()
            try await producer.send("three")
            do {
                _ = try await consumer.receive(timeout: .milliseconds(50))
                XCTFail("stopped")
            } catch is TimeoutError {}
            XCTAssertEqual(proxy.forwarded, 2)
            for socket in [frontend, backend, tap, producer, consumer, captured] { socket.close(linger: .zero) }
        }
    }
}

final class ZMQReviewRegressionTests: XCTestCase {
    func testPollerOverSocketsOnlySleepsUntilTimeoutWithoutSpinning() throws {
        let (result, cpu) = try green { () -> (Int, Double) in
            let dealer = try ZMQSocket(.dealer)  // always writable: must not wake a readable-only poll
            try dealer.bind(inproc())
            let pull = try ZMQSocket(.pull)
            try pull.bind(inproc())
            let poller = ZMQPoller()
            poller.register(dealer, for: .readable)
            poller.register(pull, for: .readable)
            let before = processCPUSeconds()
            let ready = try await poller.poll(timeout: .milliseconds(300))
            let used = processCPUSeconds() - before
            dealer.close(linger: .zero)
            pull.close(linger: .zero)
            return (ready.count, used)
        }
        XCTAssertEqual(result, 0)
        XCTAssertLessThan(cpu, 0.15, "the poll must sleep, not spin (used \(cpu) s)")
    }

    func testTerminatingAContextWakesGreenThreadsParkedOnItsSockets() throws {
        try green {
            let context = try ZMQContext()
            let pull = try ZMQSocket(.pull, context: context)
            try pull.bind(inproc())
            let receiver = spawn { () async throws -> Int32 in
                do {
                    _ = try await pull.receive()
                    return 0
                } catch let error as ZMQError {
                    pull.close(linger: .zero)  // what a worker does on ETERM, letting terminate finish
                    return error.code
                }
            }
            try await sleep(for: .milliseconds(5))
            try await withTimeout(.seconds(10)) { try await context.terminate() }
            let code = try await receiver.wait(timeout: .seconds(5))
            XCTAssertEqual(code, ZMQError.ETERM)
        }
    }
}
