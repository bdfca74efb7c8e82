import COpenSSL
import Glibc

/// A TLS failure: the handshake, certificate verification, or the protocol later on.
public enum TLSError: Error, CustomStringConvertible, Equatable {
    /// Setting up a context failed (a missing or bad certificate or key file...).
    case configuration(String)
    /// The handshake failed: the peer is not speaking TLS, offered nothing acceptable, or its
    /// certificate did not verify (the message says which).
    case handshake(String)
    /// A protocol error after the handshake (a corrupt record...).
    case protocolError(String)

    public var description: String {
        switch self {
        case .configuration(let why): "TLS configuration: \(why)"
        case .handshake(let why): "TLS handshake failed: \(why)"
        case .protocolError(let why): "TLS error: \(why)"
        }
    }

    /// The OpenSSL error queue, emptied, as text.
    static func drainErrors() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "unknown error" : messages.joined(separator: "; ")
    }
}

/// TLS settings shared by many connections (an OpenSSL `SSL_CTX`): certificates, verification,
/// ALPN. Make one per role and reuse it.
///
/// ```swift
/// let client = try TLSContext.client()                                  // system CA store
/// let server = try TLSContext.server(certificateFile: "cert.pem", keyFile: "key.pem")
/// ```
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    /// Whether peers' certificates are verified.
    public let verifiesPeer: Bool
    private var alpnList: UnsafeMutablePointer<UInt8>?

    private init(method: OpaquePointer?, verifyPeer: Bool) throws {
        guard let context = SSL_CTX_new(method) else { throw TLSError.configuration(TLSError.drainErrors()) }
        self.context = context
        self.verifiesPeer = verifyPeer
        _ = evy_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        // Retries of SSL_write may pass a different buffer address (Swift arrays move).
        _ = evy_SSL_CTX_set_mode(context, Int(SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        evy_SSL_CTX_ignore_unexpected_eof(context)
    }

    deinit {
        SSL_CTX_free(context)
        alpnList?.deallocate()
    }

    /// A client context. By default it verifies the server against the system's CA store and the
    /// host name given at connection time; `caFile` replaces the store (a private CA, a test's
    /// self-signed certificate). `verifyPeer: false` turns verification off (testing only).
    public static func client(
        verifyPeer: Bool = true, caFile: String? = nil, alpn: [String] = [],
        certificateFile: String? = nil, keyFile: String? = nil
    ) throws -> TLSContext {
        let tls = try TLSContext(method: TLS_client_method(), verifyPeer: verifyPeer)
        if let caFile {
            guard SSL_CTX_load_verify_locations(tls.context, caFile, nil) == 1 else {
                throw TLSError.configuration("cannot load CA file \(caFile): \(TLSError.drainErrors())")
            }
        } else {
            SSL_CTX_set_default_verify_paths(tls.context)
        }
        SSL_CTX_set_verify(tls.context, verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        if !alpn.isEmpty {
            let wire = try TLSContext.wireFormat(alpn)
            guard SSL_CTX_set_alpn_protos(tls.context, wire, UInt32(wire.count)) == 0 else {
                throw TLSError.configuration("ALPN: \(TLSError.drainErrors())")
            }
        }
        if let certificateFile, let keyFile { try tls.load(certificateFile: certificateFile, keyFile: keyFile) }
        return tls
    }

    /// A server context presenting the certificate chain in `certificateFile` (PEM) with the
    /// private key in `keyFile`. `alpn` lists the protocols it accepts, preferred first. With
    /// `clientCAFile`, clients must present a certificate signed by that CA.
    public static func server(
        certificateFile: String, keyFile: String, alpn: [String] = [], clientCAFile: String? = nil
    ) throws -> TLSContext {
        let tls = try TLSContext(method: TLS_server_method(), verifyPeer: clientCAFile != nil)
        try tls.load(certificateFile: certificateFile, keyFile: keyFile)
        if let clientCAFile {
            guard SSL_CTX_load_verify_locations(tls.context, clientCAFile, nil) == 1 else {
                throw TLSError.configuration("cannot load CA file \(clientCAFile): \(TLSError.drainErrors())")
            }
            SSL_CTX_set_verify(tls.context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        if !alpn.isEmpty {
            let wire = try TLSContext.wireFormat(alpn)
            let list = UnsafeMutablePointer<UInt8>.allocate(capacity: wire.count + 2)
            list[0] = UInt8(wire.count >> 8)
            list[1] = UInt8(wire.count & 0xff)
            for (index, byte) in wire.enumerated() { list[index + 2] = byte }
            tls.alpnList = list
            evy_SSL_CTX_set_alpn_server(tls.context, list)
        }
        return tls
    }

    private func load(certificateFile: String, keyFile: String) throws {
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
            throw TLSError.configuration("cannot load certificate \(certificateFile): \(TLSError.drainErrors())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, keyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.configuration("cannot load key \(keyFile): \(TLSError.drainErrors())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError.configuration("the key does not match the certificate")
        }
    }

    private static func wireFormat(_ protocols: [String]) throws -> [UInt8] {
        var wire: [UInt8] = []
        for name in protocols {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else { throw TLSError.configuration("bad ALPN name '\(name)'") }
            wire.append(UInt8(bytes.count))
            wire += bytes
        }
        return wire
    }
}

/// A TLS connection over a green ``Socket`` (Eventlet's `wrap_ssl` result). Reads and writes suspend
/// only the calling green thread; it is a ``GreenStream``, so ``GreenStream/buffered(chunkSize:)``
/// works on it.
///
/// ```swift
/// let socket = try await connect(host: "example.com", port: 443)
/// let tls = try await TLSStream.connect(socket, context: try TLSContext.client(), serverName: "example.com")
/// try await tls.sendAll(Array("GET / HTTP/1.0\r\n\r\n".utf8))
/// ```
/// A peer that closes without a TLS close-notify ends the stream like a clean end of file (Python's
/// `suppress_ragged_eofs`). Hub-confined.
public final class TLSStream: GreenStream, @unchecked Sendable {
    /// The socket underneath.
    public let socket: Socket
    private let ssl: OpaquePointer
    private let context: TLSContext

    private init(socket: Socket, context: TLSContext) throws {
        guard let ssl = SSL_new(context.context) else { throw TLSError.configuration(TLSError.drainErrors()) }
        self.ssl = ssl
        self.socket = socket
        self.context = context
        SSL_set_fd(ssl, socket.fd)
    }

    deinit { SSL_free(ssl) }

    /// Makes `socket` (connected) the client side of a TLS connection and performs the handshake.
    /// `serverName` is sent for SNI and, when the context verifies, checked against the server's
    /// certificate. Throws ``TLSError/handshake(_:)`` or ``TimeoutError`` (after `handshakeTimeout`).
    public static func connect(
        _ socket: Socket, context: TLSContext, serverName: String?, handshakeTimeout: Duration? = .seconds(30)
    ) async throws -> TLSStream {
        // Like Python: verifying a server without its name would accept any CA-signed certificate.
        guard serverName != nil || !context.verifiesPeer else {
            throw TLSError.configuration("a verifying client needs the server's name (or verifyPeer: false)")
        }
        let stream = try TLSStream(socket: socket, context: context)
        SSL_set_connect_state(stream.ssl)
        if let serverName {
            if (try? SocketAddress(ip: serverName, port: 0)) == nil {
                _ = evy_SSL_set_tlsext_host_name(stream.ssl, serverName)
            }
            if context.verifiesPeer {
                let verified =
                    (try? SocketAddress(ip: serverName, port: 0)) != nil
                    ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(stream.ssl), serverName)
                    : SSL_set1_host(stream.ssl, serverName)
                guard verified == 1 else { throw TLSError.configuration("bad server name '\(serverName)'") }
            }
        }
        try await stream.handshake(timeout: handshakeTimeout)
        return stream
    }

    /// Makes `socket` (accepted) the server side of a TLS connection and performs the handshake.
    public static func accept(
        _ socket: Socket, context: TLSContext, handshakeTimeout: Duration? = .seconds(30)
    ) async throws -> TLSStream {
        let stream = try TLSStream(socket: socket, context: context)
        SSL_set_accept_state(stream.ssl)
        try await stream.handshake(timeout: handshakeTimeout)
        return stream
    }

    private func handshake(timeout: Duration?) async throws {
        let deadline = timeout.map { socket.hub.now.advanced(by: $0) }
        do {
            try await drive("handshake", deadline: deadline, limit: timeout) { SSL_do_handshake($0) }
        } catch let error as TLSError {
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK {
                let reason = String(cString: X509_verify_cert_error_string(verify))
                throw TLSError.handshake("certificate verification failed: \(reason)")
            }
            if case .protocolError(let why) = error { throw TLSError.handshake(why) }
            throw error
        } catch SocketError.unexpectedEOF {
            throw TLSError.handshake("the peer closed the connection during the handshake")
        }
    }

    /// Runs an OpenSSL call until it succeeds, waiting for the socket as OpenSSL asks. Returns its
    /// positive result, or 0 for a clean (or ragged) end of stream where `endOK`.
    @discardableResult
    private func drive(
        _ what: String, deadline: ContinuousClock.Instant?, limit: Duration?, endOK: Bool = false,
        _ call: (OpaquePointer) -> Int32
    ) async throws -> Int32 {
        while true {
            guard !socket.isClosed else { throw SocketError.closed }
            ERR_clear_error()
            let result = call(ssl)
            if result > 0 { return result }
            let reason = SSL_get_error(ssl, result)
            switch reason {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                let remaining = deadline.map { socket.hub.now.duration(to: $0) }
                if let remaining, remaining <= .zero { throw TimeoutError(duration: limit ?? .zero) }
                try socket.hub.keepArmed(socket.fd)
                do {
                    try await socket.hub.wait(
                        for: reason == SSL_ERROR_WANT_READ ? .readable : .writable, on: socket.fd, timeout: remaining)
                } catch let error as WatchError {
                    if case .descriptorClosed = error { throw SocketError.closed }
                    throw error
                } catch is TimeoutError {
                    throw TimeoutError(duration: limit ?? .zero)
                }
            case SSL_ERROR_ZERO_RETURN:
                if endOK { return 0 }
                throw SocketError.unexpectedEOF
            case SSL_ERROR_SYSCALL:
                let code = errno
                if ERR_peek_error() == 0 && (result == 0 || code == 0 || code == ECONNRESET) {
                    if endOK && code != ECONNRESET { return 0 }  // ragged end of stream
                    if code == ECONNRESET { throw SocketError.system(what, ECONNRESET) }
                    throw SocketError.unexpectedEOF
                }
                if ERR_peek_error() != 0 { throw TLSError.protocolError(TLSError.drainErrors()) }
                throw SocketError.system(what, code)
            default:
                throw TLSError.protocolError(TLSError.drainErrors())
            }
        }
    }

    /// Receives at most `maxLength` decrypted bytes; empty at the end of the stream.
    public func receive(maxLength: Int = 65536, timeout: Duration? = nil) async throws -> [UInt8] {
        let limit = timeout ?? socket.timeout
        let deadline = limit.map { socket.hub.now.advanced(by: $0) }
        var buffer = [UInt8](repeating: 0, count: maxLength)
        let count = try await drive("read", deadline: deadline, limit: limit, endOK: true) { ssl in
            buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
        }
        buffer.removeSubrange(Int(count)...)
        return buffer
    }

    /// Encrypts and sends all of `bytes`.
    public func sendAll(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        guard !bytes.isEmpty else { return }
        let limit = timeout ?? socket.timeout
        let deadline = limit.map { socket.hub.now.advanced(by: $0) }
        var offset = 0
        while offset < bytes.count {
            let start = offset
            offset += Int(
                try await drive("write", deadline: deadline, limit: limit) { ssl in
                    bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + start, Int32($0.count - start)) }
                })
        }
    }

    /// Sends all of `text` as UTF-8.
    public func sendAll(_ text: String, timeout: Duration? = nil) async throws {
        try await sendAll(Array(text.utf8), timeout: timeout)
    }

    /// The protocol ALPN settled on, if any.
    public var negotiatedProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The TLS version in use, e.g. `TLSv1.3`.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// Sends a close-notify and ends the socket's sending side; reading goes on.
    public func shutdownWrite() {
        guard !socket.isClosed else { return }
        SSL_shutdown(ssl)
        ERR_clear_error()
        socket.shutdownWrite()
    }

    /// Sends a close-notify (best effort, without waiting) and closes the socket.
    public func close() {
        if !socket.isClosed {
            SSL_shutdown(ssl)
            ERR_clear_error()  // a shutdown on a dying connection leaves errors nobody asked for
        }
        socket.close()
    }
}

/// Wraps a connected socket in TLS (Eventlet's `wrap_ssl`): the client side by default, the server
/// side with `serverSide`.
public func wrapTLS(
    _ socket: Socket, context: TLSContext, serverSide: Bool = false, serverName: String? = nil,
    handshakeTimeout: Duration? = .seconds(30)
) async throws -> TLSStream {
    serverSide
        ? try await TLSStream.accept(socket, context: context, handshakeTimeout: handshakeTimeout)
        : try await TLSStream.connect(
            socket, context: context, serverName: serverName, handshakeTimeout: handshakeTimeout)
}

/// Runs a TLS server (``serve(_:concurrency:_:)`` plus a handshake per connection): `handle` gets
/// the connection once its handshake succeeded. A client whose handshake fails or times out (it
/// sent garbage, or nothing) is dropped and logged; it never reaches `handle` nor ends the server.
public func serveTLS(
    _ listener: Socket, context: TLSContext, concurrency: Int = 1000,
    handshakeTimeout: Duration = .seconds(30),
    _ handle: @escaping @Sendable (TLSStream, SocketAddress) async throws -> Void
) async throws {
    try await serve(listener, concurrency: concurrency) { client, address in
        let tls: TLSStream
        do {
            tls = try await TLSStream.accept(client, context: context, handshakeTimeout: handshakeTimeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            tlsLogger.info("TLS client \(address) dropped: \(error)")
            return
        }
        defer { tls.close() }
        try await handle(tls, address)
    }
}
