import Evy
import Foundation

/// An HTTP/1.1 client on green sockets (the green `urllib2` the crawlers fetch with): keep-alive
/// connection pools with a per-host limit, chunked bodies, gzip and deflate, redirects with a limit
/// and loop detection, connect/read/total timeouts, a maximum body size, HTTPS with verification,
/// and conditional GET.
///
/// ```swift
/// let client = HTTPClient()
/// let page = try await client.get("https://example.org/")
/// print(page.status, page.text.count)
/// ```
/// Hub-confined; share one client between the green threads of a hub.
public final class HTTPClient: @unchecked Sendable {
    /// Limits and behaviour.
    public struct Configuration: Sendable {
        /// Connections open at once to one host (more requests wait for one).
        public var maxConnectionsPerHost = 8
        /// Establishing a connection (TCP and TLS).
        public var connectTimeout: Duration = .seconds(10)
        /// Waiting for each piece of the response.
        public var readTimeout: Duration = .seconds(30)
        /// The whole request, redirects included (nil: no limit).
        public var totalTimeout: Duration?
        /// The largest body accepted (after decompression).
        public var maxBodyBytes = 10 * 1024 * 1024
        /// Redirects followed before giving up.
        public var maxRedirects = 10
        /// TLS settings for https (nil: the system's CA store with verification).
        public var tls: TLSContext?
        /// The `User-Agent` sent.
        public var userAgent = "Evy"
        /// How long an idle keep-alive connection is kept for reuse.
        public var idleConnectionTimeout: Duration = .seconds(60)
        /// Idle keep-alive connections kept at most, all hosts together (the oldest go first).
        public var maxIdleConnections = 100

        /// The defaults.
        public init() {}
    }

    private final class Connection {
        let socket: Socket
        let stream: any GreenStream
        let buffered: BufferedStream
        /// When it was last put back in its pool.
        var idleSince = ContinuousClock.now
        /// The pool it is idle in, while it is.
        weak var idleIn: HostPool?
        /// Counts its stays in a pool, to tell the current one from earlier ones in `idleOrder`.
        var idleStays = 0
        init(_ socket: Socket, _ stream: any GreenStream) {
            self.socket = socket
            self.stream = stream
            buffered = stream.buffered()
        }
        func close() { stream.close() }

        /// Whether the server has neither closed it nor sent anything unasked while it sat idle.
        var looksAlive: Bool { !socket.hasPendingInput }
    }

    /// The server hung up (or reset) before the first byte of the response: on a pooled connection
    /// that is a keep-alive connection the server had already closed, so the request did not run.
    struct ConnectionDropped: Error {}

    private final class HostPool {
        let slots: Evy.Semaphore
        var idle: [Connection] = []
        init(limit: Int) { slots = Evy.Semaphore(limit) }
    }

    private let configuration: Configuration
    private var pools: [String: HostPool] = [:]
    /// Idle connections in all pools.
    private var idleCount = 0
    /// Every connection put in a pool, oldest first; those taken out since are skipped when
    /// this is read (and dropped from it now and then).
    private var idleOrder: [(connection: Connection, stay: Int)] = []
    private var idleOrderStart = 0
    private var defaultTLS: TLSContext?
    /// Connections opened so far (a measure of keep-alive reuse).
    public private(set) var connectionsOpened = 0

    /// A client with `configuration`.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Fetches `url` with GET, sending `validators` for a conditional GET if given.
    public func get(_ url: String, headers: [(name: String, value: String)] = [], ifChanged validators: HTTPValidators? = nil)
        async throws -> HTTPClientResponse
    {
        try await request("GET", url, headers: headers + (validators?.headers ?? []))
    }

    /// Sends a request and returns the final response, following redirects.
    public func request(
        _ method: String, _ urlString: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []
    ) async throws -> HTTPClientResponse {
        guard let start = URL(string: urlString), Self.isHTTP(start) else { throw HTTPClientError.invalidURL(urlString) }
        let work = { [self] () async throws -> HTTPClientResponse in
            var url = start, method = method, body = body, headers = headers
            var visited: Set<String> = []
            for _ in 0...configuration.maxRedirects {
                let response = try await send(method, url, headers: headers, body: body)
                guard [301, 302, 303, 307, 308].contains(response.status), let location = response.header("Location") else {
                    return response
                }
                // Only to http(s) with a host: a server does not get to send us to ftp: or mailto:.
                guard let next = URL(string: location, relativeTo: url)?.absoluteURL, Self.isHTTP(next) else {
                    throw HTTPClientError.invalidURL(location)
                }
                if visited.isEmpty { visited.insert("\(method) \(url.absoluteString)") }
                // 303 always becomes GET; 301 and 302 do for POST, as browsers do; 307/308 keep all.
                if response.status == 303 || ([301, 302].contains(response.status) && method == "POST") {
                    method = "GET"
                    body = []
                }
                guard visited.insert("\(method) \(next.absoluteString)").inserted else {
                    throw HTTPClientError.redirectLoop(next.absoluteString)
                }
                // Credentials go only to the origin they were given for.
                if Self.origin(next) != Self.origin(url) {
                    headers.removeAll { ["authorization", "cookie", "proxy-authorization"].contains($0.name.lowercased()) }
                }
                url = next
            }
            throw HTTPClientError.tooManyRedirects(limit: configuration.maxRedirects)
        }
        return try await withTimeout(configuration.totalTimeout, label: "HTTP total timeout", work)
    }

    private static func isHTTP(_ url: URL) -> Bool {
        ["http", "https"].contains(url.scheme?.lowercased() ?? "") && !(url.host ?? "").isEmpty
    }

    private static func origin(_ url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        return "\(scheme)://\(url.host?.lowercased() ?? ""):\(url.port ?? (scheme == "https" ? 443 : 80))"
    }

    /// Closes every idle connection.
    public func close() {
        for pool in pools.values {
            for connection in pool.idle {
                connection.idleIn = nil
                connection.close()
            }
            pool.idle = []
        }
        idleCount = 0
        idleOrder = []
        idleOrderStart = 0
    }

    // MARK: One exchange

    private func send(_ method: String, _ url: URL, headers: [(name: String, value: String)], body: [UInt8])
        async throws -> HTTPClientResponse
    {
        let secure = url.scheme?.lowercased() == "https"
        let host = url.host!
        let port = url.port ?? (secure ? 443 : 80)
        let key = "\(secure ? "https" : "http")://\(host):\(port)"
        let pool: HostPool
        if let existing = pools[key] { pool = existing } else {
            pool = HostPool(limit: configuration.maxConnectionsPerHost)
            pools[key] = pool
        }
        try await pool.slots.acquire()
        defer { pool.slots.release() }

        // As sent: percent escapes stay escaped.
        let path = url.path(percentEncoded: true)
        var target = path.isEmpty ? "/" : path
        if let query = url.query(percentEncoded: true) { target += "?" + query }
        var head = "\(method) \(target) HTTP/1.1\r\nHost: \(url.port == nil ? host : "\(host):\(port)")\r\n"
            + "User-Agent: \(configuration.userAgent)\r\nAccept-Encoding: gzip, deflate\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        let request = Array(head.utf8) + body

        // A pooled connection may have been closed by the server meanwhile. A request that may be
        // repeated then goes again on a fresh one; one that may not (POST) only goes out on a
        // pooled connection that still looks alive, and never twice.
        let idempotent = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"].contains(method)
        for attempt in 0..<2 {
            var reused = attempt == 0 ? takeIdle(from: pool) : nil
            // Closed by the server while idle, or holding bytes nobody asked for (a late 408):
            // never read those as this request's response.
            if let candidate = reused, !candidate.looksAlive {
                candidate.close()
                reused = nil
            }
            let connection: Connection
            if let reused { connection = reused } else {
                connection = try await open(host: host, port: port, secure: secure)
            }
            do {
                do {
                    try await connection.stream.sendAll(request, timeout: configuration.readTimeout)
                } catch is SocketError {
                    throw ConnectionDropped()
                }
                let (response, keepAlive) = try await readResponse(connection, head: method == "HEAD", url: url)
                if keepAlive { putIdle(connection, in: pool) } else { connection.close() }
                return response
            } catch is ConnectionDropped where reused != nil && idempotent {
                connection.close()
                continue
            } catch is ConnectionDropped {
                connection.close()
                throw HTTPClientError.incompleteResponse
            } catch {
                connection.close()
                throw error
            }
        }
        throw HTTPClientError.incompleteResponse
    }

    /// The most recently used idle connection to the pool's host, after closing expired ones.
    private func takeIdle(from pool: HostPool) -> Connection? {
        let now = ContinuousClock.now
        while let oldest = pool.idle.first, now - oldest.idleSince > configuration.idleConnectionTimeout {
            pool.idle.removeFirst()
            oldest.idleIn = nil
            oldest.close()
            idleCount -= 1
        }
        guard let connection = pool.idle.popLast() else { return nil }
        connection.idleIn = nil
        idleCount -= 1
        return connection
    }

    /// Keeps `connection` for reuse; past the cap, the connection idle longest (any host) closes.
    private func putIdle(_ connection: Connection, in pool: HostPool) {
        connection.idleSince = .now
        connection.idleIn = pool
        connection.idleStays += 1
        pool.idle.append(connection)
        idleOrder.append((connection, connection.idleStays))
        idleCount += 1
        while idleCount > configuration.maxIdleConnections, idleOrderStart < idleOrder.count {
            let oldest = idleOrder[idleOrderStart]
            idleOrderStart += 1
            if isCurrent(oldest) { discardIdle(oldest.connection) }
        }
        // Drop the entries of stays that have ended, once they are the bulk of the list.
        if idleOrder.count > 64 && idleOrder.count > 2 * idleCount {
            idleOrder = idleOrder[idleOrderStart...].filter(isCurrent)
            idleOrderStart = 0
        }
    }

    private func isCurrent(_ entry: (connection: Connection, stay: Int)) -> Bool {
        entry.connection.idleIn != nil && entry.connection.idleStays == entry.stay
    }

    private func discardIdle(_ connection: Connection) {
        guard let pool = connection.idleIn else { return }
        pool.idle.removeAll { $0 === connection }
        connection.idleIn = nil
        connection.close()
        idleCount -= 1
    }

    private func open(host: String, port: Int, secure: Bool) async throws -> Connection {
        let socket = try await connect(host: host, port: port, timeout: configuration.connectTimeout)
        try? socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        connectionsOpened += 1
        guard secure else { return Connection(socket, socket) }
        let context = try configuration.tls ?? defaultTLSContext()
        return Connection(socket, try await wrapTLS(socket, context: context, serverName: host,
                                                    handshakeTimeout: configuration.connectTimeout))
    }

    private func defaultTLSContext() throws -> TLSContext {
        if let defaultTLS { return defaultTLS }
        let context = try TLSContext.client()
        defaultTLS = context
        return context
    }

    private func readResponse(_ connection: Connection, head: Bool, url: URL) async throws -> (HTTPClientResponse, Bool) {
        try await Self.readResponse(from: connection.buffered, head: head, url: url,
                                    maxBodyBytes: configuration.maxBodyBytes, readTimeout: configuration.readTimeout)
    }

    /// Reads one response from `stream`: the response, and whether the connection can carry
    /// another request. Throws ``HTTPClientError`` for what the server got wrong.
    static func readResponse(
        from stream: BufferedStream, head: Bool, url: URL, maxBodyBytes: Int, readTimeout: Duration
    ) async throws -> (HTTPClientResponse, Bool) {
        let parser = ResponseParser(maxBodyBytes: maxBodyBytes, skipBody: head)
        var received = false
        while !parser.isComplete {
            let chunk: [UInt8]
            do {
                chunk = try await stream.read(maxLength: 65536, timeout: readTimeout)
            } catch is SocketError where !received {
                throw ConnectionDropped()
            }
            if chunk.isEmpty && !received { throw ConnectionDropped() }
            received = true
            if chunk.isEmpty {
                try parser.finish()
                guard parser.isComplete else { throw HTTPClientError.incompleteResponse }
                break
            }
            try chunk.withUnsafeBytes { try parser.feed($0) }
        }
        var body = parser.body
        if let encoding = parser.header("Content-Encoding")?.lowercased(), ["gzip", "deflate", "x-gzip"].contains(encoding),
           !body.isEmpty {
            body = try Inflate.decode(body, limit: maxBodyBytes)
        }
        let response = HTTPClientResponse(status: parser.status, headers: parser.headers, body: body, url: url)
        // A 101 switched the connection to another protocol: it carries no further requests.
        let reusable = parser.keepAlive && !parser.endedWithConnection && !parser.trailingBytes && parser.status != 101
        return (response, reusable)
    }
}

