import Evy

/// What a handler answers.
public struct HTTPResponse: Sendable {
    /// How the body is produced.
    public enum Body: Sendable {
        /// A body known in full (sent with `Content-Length`).
        case bytes([UInt8])
        /// A body written piece by piece (sent chunked to HTTP/1.1 clients, or delimited by the
        /// connection's end for HTTP/1.0).
        case stream(@Sendable (HTTPBodyWriter) async throws -> Void)
        /// The handler takes the raw connection over (the blog's `ALREADY_HANDLED` and
        /// `get_socket()`): the server writes nothing, calls the closure with the connection and the
        /// bytes it had already read past the request, and closes the connection afterwards.
        case takeOver(@Sendable (any GreenStream, [UInt8]) async throws -> Void)
    }

    /// The status code.
    public var status: Int
    /// The header fields (`Content-Length`, `Transfer-Encoding` and `Connection` are set by the
    /// server).
    public var headers: HTTPHeaders
    /// The body.
    public var body: Body

    /// A response with a body known in full.
    public init(status: Int = 200, headers: HTTPHeaders = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = .bytes(body)
    }

    /// A response whose body is written as it is produced.
    public init(
        status: Int = 200, headers: HTTPHeaders = [],
        streaming: @escaping @Sendable (HTTPBodyWriter) async throws -> Void
    ) {
        self.status = status
        self.headers = headers
        self.body = .stream(streaming)
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }

    /// A response that hands the connection to `handler` (a WebSocket upgrade, say).
    public static func takeOver(_ handler: @escaping @Sendable (any GreenStream, [UInt8]) async throws -> Void)
        -> HTTPResponse
    {
        var response = HTTPResponse(status: 101)
        response.body = .takeOver(handler)
        return response
    }
}
