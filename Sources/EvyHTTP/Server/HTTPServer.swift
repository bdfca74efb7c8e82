import Evy
import Foundation
import DequeModule
import Logging

/// An HTTP/1.1 server on green sockets, in the spirit of Evy's WSGI server: one green thread per
/// connection, keep-alive and pipelining, limits on header and body size, idle and request
/// timeouts, post hooks, connection take-over, TLS, a graceful stop and an access log.
///
/// ```swift
/// let server = HTTPServer { request, _ in .text("Hello, World!\r\n") }
/// try await server.serve(try listen(on: SocketAddress(ip: "0.0.0.0", port: 8090)))
/// ```
/// A client that sends something that is not HTTP, too much, or too slowly gets a 400, 413, 431 or
/// 408 and its connection closed; nothing else is affected. At its ``Configuration/concurrency``
/// the server closes the connection idle the longest (a keep-alive connection between requests, or
/// one that has not sent a byte yet), as nginx reuses its connections, so a new client is served at
/// once however many idle or slow ones are open. Hub-confined.
public final class HTTPServer: @unchecked Sendable {
    /// Limits and behaviour.
    public struct Configuration: Sendable {
        /// Request line plus headers, in bytes (431 beyond).
        public var maxHeaderBytes = 16 * 1024
        /// Request body, in bytes (413 beyond).
        public var maxBodyBytes = 1024 * 1024
        /// How long a keep-alive connection may sit idle between requests.
        public var idleTimeout: Duration = .seconds(60)
        /// How long a client may take to send a request line and headers once it started, and to
        /// send each next piece of a body (slowloris: 408).
        public var requestTimeout: Duration = .seconds(30)
        /// Connections open at once; at the limit the longest-idle one is closed for a new one.
        /// A parked connection costs about 4 KB (its green thread, socket and parser state), so the
        /// default is 100,000 (400 MB), or what the process's file descriptor limit leaves room for.
        public var concurrency = Configuration.defaultConcurrency
        /// Whether each request is logged (logger `evy.http.access`).
        public var accessLog = true

        /// The defaults.
        public init() {}

        /// 100,000, or the soft `RLIMIT_NOFILE` less 64 descriptors for everything else, if lower.
        public static var defaultConcurrency: Int {
            var limit = rlimit()
            guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1000 }
            return max(64, min(100_000, Int(clamping: limit.rlim_cur) - 64))
        }
    }

    private let configuration: Configuration
    private let handler: HTTPHandler
    private var listeners: [Socket] = []
    private var stopping = false
    private var openConnections: [ObjectIdentifier: ServerConnection] = [:]
    /// Connections in the order they became idle (oldest first), each with the idle spell it
    /// entered then; an entry is stale once its connection is busy again or closed.
    private var idleOrder = Deque<(connection: ServerConnection, spell: Int)>()
    /// Connections closed to make room whose green threads have not ended yet.
    private var shedding = Set<ObjectIdentifier>()
    /// Whether every slot is taken (not counting connections already being closed for room).
    private var atLimit: Bool { openConnections.count - shedding.count >= configuration.concurrency }
    private let drained = Flag()
    private static let accessLogger = Logger(label: "evy.http.access")

    /// A server answering with `handler`.
    public init(configuration: Configuration = Configuration(), handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.handler = handler
        drained.set()
    }

    /// Serves plain HTTP on `listener` until ``stop(grace:)`` (or the listener is closed).
    public func serve(_ listener: Socket) async throws {
        listeners.append(listener)
        try await Evy.serve(listener, concurrency: configuration.concurrency) { [self] client, address in
            try client.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            await serveConnection(client, peer: address)
        }
    }

    /// Serves HTTPS on `listener`.
    public func serveTLS(_ listener: Socket, context: TLSContext) async throws {
        listeners.append(listener)
        try await Evy.serveTLS(
            listener, context: context, concurrency: configuration.concurrency,
            handshakeTimeout: configuration.requestTimeout
        ) { [self] tls, address in
            await serveConnection(tls, peer: address)
        }
    }

    /// Stops accepting, closes idle keep-alive connections, lets requests in progress finish, and
    /// returns once every connection is closed. Connections still open after `grace` (long
    /// requests, taken-over connections such as WebSockets) are closed then; nil waits for them.
    ///
    /// ```swift
    /// try Hub.current.addSignalHandler(SIGTERM) { spawnN { await server.stop(grace: .seconds(5)) } }
    /// ```
    public func stop(grace: Duration? = nil) async {
        stopping = true
        for listener in listeners { listener.close() }
        for connection in openConnections.values where connection.state == .idle { connection.stream.close() }
        guard let grace else {
            _ = try? await drained.wait()
            return
        }
        if (try? await drained.wait(timeout: grace)) == true { return }
        for connection in openConnections.values { connection.stream.close() }
        _ = try? await drained.wait()
    }

    // MARK: One connection

    private func serveConnection(_ stream: any GreenStream, peer: SocketAddress) async {
        drained.clear()
        let parser = RequestParser(
            maxHeaderBytes: configuration.maxHeaderBytes, maxBodyBytes: configuration.maxBodyBytes)
        let connection = ServerConnection(
            stream: stream, peer: peer, parser: parser, requestTimeout: configuration.requestTimeout)
        let id = ObjectIdentifier(connection)
        openConnections[id] = connection
        // At the limit (the next client would wait for a slot): make room now.
        if atLimit { shedIdleConnection() }
        defer {
            openConnections[id] = nil
            shedding.remove(id)
            if openConnections.isEmpty { drained.set() }
        }
        while !stopping {
            guard connection.ready.isEmpty else {
                let request = connection.ready.removeFirst()
                guard await respond(to: request, on: connection) else { return }
                // After an upgrade request the bytes belong to another protocol.
                if !request.keepAlive || request.isUpgrade { return }
                continue
            }
            // A parse error is answered after the requests whose headers came before it.
            if let failure = connection.failure {
                await reject(failure, stream, peer)
                return
            }
            if !parser.inMiddleOfRequest { becameIdle(connection) }
            do {
                guard try await connection.receiveRequest(idleTimeout: configuration.idleTimeout) else { return }
            } catch is HTTPParseError {
                continue  // kept in connection.failure
            } catch let error as TimeoutError {
                if parser.inMiddleOfRequest { await reject(error, stream, peer) }
                return
            } catch {
                return  // reset, closed by stop(): nothing to answer
            }
        }
    }

    /// Notes that `connection` waits for a request (its next idle spell).
    private func becameIdle(_ connection: ServerConnection) {
        connection.idleSpells += 1
        idleOrder.append((connection, connection.idleSpells))
        // At the limit the accept loop waits for a slot: the longest-idle connection makes one.
        if atLimit { shedIdleConnection() }
        // Stale entries are dropped by shedding; without pressure, compact now and then.
        if idleOrder.count > 2 * openConnections.count + 64 {
            idleOrder = Deque(idleOrder.filter { isIdle($0) })
        }
    }

    private func isIdle(_ entry: (connection: ServerConnection, spell: Int)) -> Bool {
        entry.connection.idleSpells == entry.spell && entry.connection.state == .idle
            && openConnections[ObjectIdentifier(entry.connection)] != nil
    }

    /// Closes the connection idle the longest, if any is idle (its green thread then ends).
    private func shedIdleConnection() {
        while let entry = idleOrder.popFirst() {
            guard isIdle(entry) else { continue }
            shedding.insert(ObjectIdentifier(entry.connection))
            entry.connection.stream.close()
            return
        }
    }

    /// Answers one request; false if the connection must close.
    private func respond(to request: HTTPRequest, on connection: ServerConnection) async -> Bool {
        let (stream, peer) = (connection.stream, connection.peer)
        connection.beginResponse(to: request)
        let exchange = HTTPExchange(peer: peer)
        var response: HTTPResponse
        do {
            response = try await handler(request, exchange)
        } catch {
            if let failure = request.body.failure {  // the client's fault: 400, 408 or 413
                await reject(failure, stream, peer)
                return false
            }
            Self.accessLogger.error("handler failed for \(request.method) \(request.target): \(error)")
            response = .text("internal server error\n", status: 500)
        }
        // A streamed response may read the body as it writes: the client gets its 100 Continue
        // first, since none may follow the final status line. A client still waiting for it after
        // any other response may never send the body it holds back, so the connection closes.
        if case .stream = response.body { try? await connection.sendContinueIfOwed() }
        // After an upgrade request the parser has stopped: the connection ends with this answer.
        var keepAlive =
            request.keepAlive && !stopping && response.status != 500 && !connection.owesContinue
            && !request.isUpgrade
        var sent = 0
        do {
            switch response.body {
            case .takeOver(let takeOver):
                // The new protocol starts after the body, with what was read past it.
                guard await request.body.discardRest() else { return false }
                log(request, status: response.status, bytes: 0, peer: peer)
                try await takeOver(stream, request.isUpgrade ? connection.parser.upgradeLeftover : [])
                return false
            case .bytes(let body):
                let head = self.head(
                    response, request: request, contentLength: body.count, chunked: false, keepAlive: keepAlive)
                let payload = request.method == "HEAD" ? head : head + body
                try await stream.sendAll(payload, timeout: configuration.requestTimeout)
                sent = body.count
            case .stream(let produce):
                let chunked = request.version.minor >= 1
                keepAlive = keepAlive && chunked  // an HTTP/1.0 client reads to the connection's end
                let head = self.head(
                    response, request: request, contentLength: nil, chunked: chunked, keepAlive: keepAlive)
                try await stream.sendAll(head, timeout: configuration.requestTimeout)
                let writer = HTTPBodyWriter(stream: stream, chunked: chunked)
                if request.method != "HEAD" {
                    try await produce(writer)
                    try await writer.finish()
                }
                sent = writer.bytesWritten
            }
        } catch {
            return false  // the client went away mid-response
        }
        log(request, status: response.status, bytes: sent, peer: peer)
        // What the handler left unread is read and dropped: for the next request, or so that
        // closing does not reset the connection under the response.
        var reusable = false
        if keepAlive { reusable = await request.body.discardRest() }
        // (After an upgrade request the client may already be sending the new protocol.)
        if !reusable && (!request.body.isComplete || request.isUpgrade) { await linger(stream) }
        for hook in exchange.postHooks { await hook() }
        return reusable
    }

    private func head(
        _ response: HTTPResponse, request: HTTPRequest, contentLength: Int?, chunked: Bool, keepAlive: Bool
    ) -> [UInt8] {
        var head = HTTPHeadWriter(status: response.status)
        head.add(response.headers, skipping: ["content-length", "transfer-encoding", "connection"])
        if let contentLength { head.add("Content-Length", String(contentLength)) }
        if chunked { head.add("Transfer-Encoding", "chunked") }
        if !keepAlive {
            head.add("Connection", "close")
        } else if request.version.minor == 0 {
            head.add("Connection", "keep-alive")
        }
        return head.bytes
    }

    /// Answers a request the client got wrong (400, 408, 413, 431) and lets the connection close.
    private func reject(_ failure: any Error, _ stream: any GreenStream, _ peer: SocketAddress) async {
        let (status, message) =
            switch failure {
            case HTTPParseError.headersTooLarge: (431, "request header fields too large")
            case HTTPParseError.bodyTooLarge: (413, "content too large")
            case is TimeoutError: (408, "request timeout")
            default: (400, "bad request")
            }
        let body = Array("\(message)\n".utf8)
        var head = HTTPHeadWriter(status: status)
        head.add("Content-Type", "text/plain")
        head.add("Content-Length", String(body.count))
        head.add("Connection", "close")
        try? await stream.sendAll(head.bytes + body, timeout: .seconds(5))
        if configuration.accessLog { Self.accessLogger.info("\(peer) rejected: \(status) \(message)") }
        if !(failure is TimeoutError) { await linger(stream) }  // a silent client has nothing more to send
    }

    /// Reads and drops what the client still sends, for up to a second and a megabyte, before the
    /// connection closes. Closing with unread bytes makes the kernel reset the connection, which
    /// can destroy a response the client has not read yet (Apache's and nginx's lingering close).
    private func linger(_ stream: any GreenStream) async {
        stream.shutdownWrite()  // the client sees the end and can close its side at once
        let deadline = ContinuousClock.now + .seconds(1)
        var dropped = 0
        while dropped < 1 << 20, ContinuousClock.now < deadline {
            guard let chunk = try? await stream.receive(maxLength: 65536, timeout: deadline - .now), !chunk.isEmpty
            else { return }
            dropped += chunk.count
        }
    }

    private func log(_ request: HTTPRequest, status: Int, bytes: Int, peer: SocketAddress) {
        guard configuration.accessLog else { return }
        Self.accessLogger.info(
            "\(peer) \"\(request.method) \(request.target) HTTP/\(request.version.major).\(request.version.minor)\" \(status) \(bytes)"
        )
    }

    /// The reason phrase of a status code (`Status` for the ones it does not know).
    public static func reason(_ status: Int) -> String { HTTPHeadWriter.reason(status) }
}
