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
        /// Whether redirects are followed; when false a 3xx comes back as the response (a crawler
        /// sends its `Location` through its frontier instead).
        public var followsRedirects = true
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

    /// The server hung up (or reset) before the first byte of the response: on a pooled connection
    /// that is a keep-alive connection the server had already closed, so the request did not run.
    struct ConnectionDropped: Error {}

    private let configuration: Configuration
    private let connections: ConnectionPool
    private var defaultTLS: TLSContext?
    /// Connections opened so far (a measure of keep-alive reuse).
    public private(set) var connectionsOpened = 0

    /// A client with `configuration`.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        connections = ConnectionPool(
            maxPerOrigin: configuration.maxConnectionsPerHost, idleTimeout: configuration.idleConnectionTimeout,
            maxIdle: configuration.maxIdleConnections)
    }

    /// Fetches `url` with GET, sending `validators` for a conditional GET if given.
    public func get(_ url: String, headers: HTTPHeaders = [], ifChanged validators: HTTPValidators? = nil)
        async throws -> HTTPClientResponse
    {
        try await request("GET", url, headers: headers + (validators?.headers ?? []))
    }

    /// Sends a request and returns the final response, following redirects.
    public func request(
        _ method: String, _ urlString: String, headers: HTTPHeaders = [], body: [UInt8] = []
    ) async throws -> HTTPClientResponse {
        guard let start = URL(string: urlString), Origin(start) != nil else {
            throw HTTPClientError.invalidURL(urlString)
        }
        let work = { [self] () async throws -> HTTPClientResponse in
            var url = start
            var method = method
            var body = body
            var headers = headers
            var visited: Set<String> = []
            for _ in 0...configuration.maxRedirects {
                let response = try await send(method, url, headers: headers, body: body)
                guard configuration.followsRedirects, [301, 302, 303, 307, 308].contains(response.status),
                    let location = response.header("Location")
                else {
                    return response
                }
                // Only to http(s) with a host: a server does not get to send us to ftp: or mailto:.
                guard let next = URL(string: location, relativeTo: url)?.absoluteURL, Origin(next) != nil else {
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
                if Origin(next) != Origin(url) {
                    headers.removeAll {
                        ["authorization", "cookie", "proxy-authorization"].contains($0.name.lowercased())
                    }
                }
                url = next
            }
            throw HTTPClientError.tooManyRedirects(limit: configuration.maxRedirects)
        }
        return try await withTimeout(configuration.totalTimeout, label: "HTTP total timeout", work)
    }

    /// Closes every idle connection.
    public func close() { connections.closeIdle() }

    // MARK: One exchange

    private func send(_ method: String, _ url: URL, headers: HTTPHeaders, body: [UInt8])
        async throws -> HTTPClientResponse
    {
        let origin = Origin(url)!  // checked before the first request and each redirect
        let host = url.host!
        // As sent: percent escapes stay escaped.
        let path = url.path(percentEncoded: true)
        var target = path.isEmpty ? "/" : path
        if let query = url.query(percentEncoded: true) { target += "?" + query }
        var head = HTTPHeadWriter(method: method, target: target)
        head.add("Host", url.port == nil ? host : "\(host):\(origin.port)")
        head.add("User-Agent", configuration.userAgent)
        head.add("Accept-Encoding", "gzip, deflate")
        head.add(headers)
        if !body.isEmpty || method == "POST" || method == "PUT" { head.add("Content-Length", String(body.count)) }
        let request = head.bytes + body
        return try await connections.withSlot(for: origin) {
            try await exchange(request, method: method, url: url, origin: origin)
        }
    }

    /// Sends `request` (head and body) to `origin` and reads the response, on a pooled
    /// connection or a new one.
    private func exchange(_ request: [UInt8], method: String, url: URL, origin: Origin) async throws
        -> HTTPClientResponse
    {
        // A pooled connection may have been closed by the server meanwhile. A request that may be
        // repeated then goes again on a fresh one; one that may not (POST) only goes out on a
        // pooled connection that still looks alive, and never twice.
        let idempotent = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"].contains(method)
        for attempt in 0..<2 {
            var reused = attempt == 0 ? connections.takeIdle(for: origin) : nil
            // Closed by the server while idle, or holding bytes nobody asked for (a late 408):
            // never read those as this request's response.
            if let candidate = reused, !candidate.looksAlive {
                candidate.close()
                reused = nil
            }
            let connection: ClientConnection
            if let reused { connection = reused } else { connection = try await open(origin, serverName: url.host!) }
            do {
                do {
                    try await connection.stream.sendAll(request, timeout: configuration.readTimeout)
                } catch is SocketError {
                    throw ConnectionDropped()
                }
                let (response, keepAlive, _) = try await Self.readResponse(
                    from: connection.buffered, head: method == "HEAD", url: url,
                    maxBodyBytes: configuration.maxBodyBytes,
                    readTimeout: configuration.readTimeout)
                if keepAlive { connections.putIdle(connection, for: origin) } else { connection.close() }
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

    private func open(_ origin: Origin, serverName: String) async throws -> ClientConnection {
        let socket = try await connect(host: serverName, port: origin.port, timeout: configuration.connectTimeout)
        try? socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        connectionsOpened += 1
        guard origin.isSecure else { return ClientConnection(socket, socket) }
        let context = try configuration.tls ?? defaultTLSContext()
        return ClientConnection(
            socket,
            try await wrapTLS(
                socket, context: context, serverName: serverName,
                handshakeTimeout: configuration.connectTimeout))
    }

    private func defaultTLSContext() throws -> TLSContext {
        if let defaultTLS { return defaultTLS }
        let context = try TLSContext.client()
        defaultTLS = context
        return context
    }

    /// Reads one response from `stream`: the response, whether the connection can carry another
    /// request, and the bytes read past the response (after a 101, the new protocol's). Throws
    /// ``HTTPClientError`` for what the server got wrong, ``ConnectionDropped`` if it sent nothing.
    static func readResponse(
        from stream: BufferedStream, head: Bool, url: URL, maxBodyBytes: Int, readTimeout: Duration
    ) async throws -> (response: HTTPClientResponse, reusable: Bool, leftover: [UInt8]) {
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
        if let encoding = parser.headers["Content-Encoding"]?.lowercased(),
            ["gzip", "deflate", "x-gzip"].contains(encoding),
            !body.isEmpty
        {
            body = try Inflate.decode(body, limit: maxBodyBytes)
        }
        let response = HTTPClientResponse(status: parser.status, headers: parser.headers, body: body, url: url)
        // A 101 switched the connection to another protocol: it carries no further requests.
        let reusable = parser.keepAlive && !parser.endedWithConnection && !parser.trailingBytes && parser.status != 101
        return (response, reusable, parser.leftover)
    }
}
