import EvyTestSupport
import Foundation
import Glibc
import XCTest

@testable import Evy

/// A throw-away self-signed certificate for localhost and 127.0.0.1, made with the openssl tool.
enum TestCertificate {
    struct Files: Sendable {
        let certificate: String
        let key: String
    }

    static func make() async throws -> Files {
        let directory = NSTemporaryDirectory() + "evy-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let files = Files(certificate: directory + "/cert.pem", key: directory + "/key.pem")
        let (status, _, error) = try await ChildProcess.run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", files.key, "-out", files.certificate, "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            ], timeout: .seconds(30))
        guard status.succeeded else { throw TLSError.configuration(String(decoding: error, as: UTF8.self)) }
        return files
    }
}

final class TLSTests: XCTestCase {
    /// A TLS echo server on a free port.
    private static func startTLSEcho(_ files: TestCertificate.Files, handshakeTimeout: Duration = .seconds(5)) throws
        -> Socket
    {
        let context = try TLSContext.server(
            certificateFile: files.certificate, keyFile: files.key, alpn: ["h2", "http/1.1"])
        let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
        spawnN {
            try await serveTLS(listener, context: context, handshakeTimeout: handshakeTimeout) { tls, _ in
                while case let data = try await tls.receive(), !data.isEmpty { try await tls.sendAll(data) }
            }
        }
        return listener
    }

    func testHandshakeVerificationALPNAndEcho() throws {
        try green {
            let files = try await TestCertificate.make()
            let listener = try Self.startTLSEcho(files)
            let context = try TLSContext.client(caFile: files.certificate, alpn: ["http/1.1"])
            let socket = try await connect(to: listener.localAddress!, timeout: .seconds(5))
            let tls = try await TLSStream.connect(socket, context: context, serverName: "localhost")
            XCTAssertEqual(tls.negotiatedProtocol, "http/1.1")
            XCTAssertTrue(tls.protocolVersion.hasPrefix("TLSv1."), tls.protocolVersion)
            let message = [UInt8](repeating: 7, count: 100_000) + Array("end".utf8)
            try await tls.sendAll(message)
            let echoed = try await tls.buffered().readExactly(message.count, timeout: .seconds(10))
            XCTAssertEqual(echoed, message)
            tls.close()

            // By IP address, verified against the certificate's IP entry.
            let byIP = try await wrapTLS(
                try await connect(to: listener.localAddress!), context: context, serverName: "127.0.0.1")
            try await byIP.sendAll("ip")
            let reply = try await byIP.receive(timeout: .seconds(5))
            XCTAssertEqual(reply, Array("ip".utf8))
            byIP.close()
            listener.close()
        }
    }

    func testVerificationFailuresAreClearErrors() throws {
        try green {
            let files = try await TestCertificate.make()
            let listener = try Self.startTLSEcho(files)
            let address = listener.localAddress!
            // The system store does not know our self-signed certificate.
            do {
                _ = try await wrapTLS(
                    try await connect(to: address), context: try TLSContext.client(), serverName: "localhost")
                XCTFail("expected a verification failure")
            } catch let error as TLSError {
                XCTAssertTrue("\(error)".contains("verif"), "\(error)")
            }
            // Trusted certificate, wrong name.
            do {
                let trusting = try TLSContext.client(caFile: files.certificate)
                _ = try await wrapTLS(try await connect(to: address), context: trusting, serverName: "example.com")
                XCTFail("expected a host name mismatch")
            } catch let error as TLSError {
                XCTAssertTrue("\(error)".contains("verif") || "\(error)".contains("hostname"), "\(error)")
            }
            // Verification off: connects.
            let lax = try await wrapTLS(
                try await connect(to: address), context: try TLSContext.client(verifyPeer: false),
                serverName: "localhost")
            try await lax.sendAll("ok")
            let reply = try await lax.receive(timeout: .seconds(5))
            XCTAssertEqual(reply, Array("ok".utf8))
            lax.close()
            listener.close()
        }
    }

    func testGarbageAndSilentPeersAreDroppedWithoutHurtingOthers() throws {
        try green {
            let files = try await TestCertificate.make()
            let listener = try Self.startTLSEcho(files, handshakeTimeout: .milliseconds(200))
            let address = listener.localAddress!
            // A plain-text client: the server's handshake fails and it closes the connection.
            let garbage = try await connect(to: address)
            try await garbage.sendAll("GET / HTTP/1.0\r\n\r\n" + String(repeating: "junk", count: 100))
            let answer = try? await garbage.receive(timeout: .seconds(5))
            XCTAssertTrue(answer == nil || answer!.count < 100, "an alert at most, then the end")
            garbage.close()
            // A client that says nothing: dropped after the handshake timeout.
            let silent = try await connect(to: address)
            let end = try await silent.receive(timeout: .seconds(5))
            XCTAssertTrue(end.isEmpty, "closed by the server")
            silent.close()
            // Meanwhile a real client is served.
            let context = try TLSContext.client(caFile: files.certificate)
            let good = try await wrapTLS(try await connect(to: address), context: context, serverName: "localhost")
            try await good.sendAll("still serving")
            let reply = try await good.receive(timeout: .seconds(5))
            XCTAssertEqual(String(decoding: reply, as: UTF8.self), "still serving")
            good.close()
            listener.close()
        }
    }

    func testClientHandshakeTimeoutAndBadConfiguration() throws {
        try green {
            // A server that accepts TCP but never speaks TLS.
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let hold = spawn { try await listener.accept() }
            let socket = try await connect(to: listener.localAddress!)
            do {
                _ = try await TLSStream.connect(
                    socket, context: try TLSContext.client(), serverName: "localhost",
                    handshakeTimeout: .milliseconds(50))
                XCTFail("expected a timeout")
            } catch is TimeoutError {}
            socket.close()
            _ = try await hold.wait()
            listener.close()
            XCTAssertThrowsError(try TLSContext.server(certificateFile: "/no/cert.pem", keyFile: "/no/key.pem")) {
                XCTAssertTrue("\($0)".contains("cannot load certificate"), "\($0)")
            }
        }
    }
}

final class TLSReviewRegressionTests: XCTestCase {
    func testAPeerClosingWithoutCloseNotifyIsAnEndOfStream() throws {
        try green {
            let files = try await TestCertificate.make()
            let context = try TLSContext.server(certificateFile: files.certificate, keyFile: files.key)
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN {
                let (client, _) = try await listener.accept()
                let tls = try await TLSStream.accept(client, context: context)
                try await tls.sendAll("last words")
                tls.socket.close()  // no close-notify: a ragged end
            }
            let tls = try await wrapTLS(
                try await connect(to: listener.localAddress!),
                context: try TLSContext.client(caFile: files.certificate), serverName: "localhost")
            let words = try await tls.buffered().readExactly(10, timeout: .seconds(5))
            XCTAssertEqual(String(decoding: words, as: UTF8.self), "last words")
            let end = try await tls.receive(timeout: .seconds(5))
            XCTAssertTrue(end.isEmpty, "a ragged end reads as the end of the stream")
            tls.close()
            listener.close()
        }
    }

    func testVerifyingWithoutAServerNameIsRefused() throws {
        try green {
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            let socket = try await connect(to: listener.localAddress!)
            do {
                _ = try await TLSStream.connect(socket, context: try TLSContext.client(), serverName: nil)
                XCTFail("expected a configuration error")
            } catch let error as TLSError {
                XCTAssertTrue("\(error)".contains("server's name"), "\(error)")
            }
            socket.close()
            listener.close()
        }
    }
}
