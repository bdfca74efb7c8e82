import Foundation

/// A response received by ``HTTPClient``.
public struct HTTPClientResponse: Sendable {
    /// The status code.
    public var status: Int
    /// The header fields, in order.
    public var headers: HTTPHeaders
    /// The body, decoded from `gzip`/`deflate` if it was compressed.
    public var body: [UInt8]
    /// The URL that answered, after redirects.
    public var url: URL

    /// The first value of the header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers[name]
    }

    /// The body as UTF-8 text (invalid bytes replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// What to send next time to fetch this URL only if it changed (conditional GET).
    public var validators: HTTPValidators {
        HTTPValidators(etag: header("ETag"), lastModified: header("Last-Modified"))
    }
}
