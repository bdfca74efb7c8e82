/// An `ETag` and a `Last-Modified` date remembered from a response: a conditional GET with them is
/// answered `304 Not Modified` when nothing changed (how a feed is not fetched twice for nothing).
public struct HTTPValidators: Sendable, Equatable {
    /// The `ETag` to send as `If-None-Match`.
    public var etag: String?
    /// The `Last-Modified` date to send as `If-Modified-Since`.
    public var lastModified: String?

    /// Validators from known values.
    public init(etag: String? = nil, lastModified: String? = nil) {
        self.etag = etag
        self.lastModified = lastModified
    }

    /// The request fields that carry them: `If-None-Match`, `If-Modified-Since`.
    var headers: HTTPHeaders {
        var headers = HTTPHeaders()
        if let etag { headers.append(("If-None-Match", etag)) }
        if let lastModified { headers.append(("If-Modified-Since", lastModified)) }
        return headers
    }
}
