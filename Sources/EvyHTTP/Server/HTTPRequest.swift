/// An HTTP/1.x request as the server hands it to a handler.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`...
    public var method: String
    /// The request target as sent (`/search?q=evy`).
    public var target: String
    /// The target's path, without the query (`/search`).
    public var path: String { String(target.prefix { $0 != "?" }) }
    /// The query string after `?`, if any (`q=evy`).
    public var query: String? {
        guard let mark = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: mark)...])
    }
    /// `(1, 1)` for HTTP/1.1.
    public var version: (major: Int, minor: Int)
    /// The header fields in order, names as sent.
    public var headers: HTTPHeaders
    /// The body, read as it arrives (chunked bodies decoded).
    public var body: HTTPRequestBody
    /// Whether the client wants the connection kept open after the response.
    public var keepAlive: Bool
    /// Whether the request asks to switch protocols (`Upgrade`, `CONNECT`): the bytes after it
    /// belong to the new protocol.
    var isUpgrade = false

    /// The first value of the header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers[name]
    }
}
