/// What went wrong with a request.
public enum HTTPClientError: Error, Equatable, CustomStringConvertible {
    /// The URL is not an absolute http or https URL.
    case invalidURL(String)
    /// More redirects than allowed.
    case tooManyRedirects(limit: Int)
    /// A redirect led back to a URL already visited.
    case redirectLoop(String)
    /// The body was larger than allowed.
    case bodyTooLarge(limit: Int)
    /// The server's answer was not HTTP (the parser's reason).
    case malformedResponse(String)
    /// The connection ended before the response did.
    case incompleteResponse
    /// A `gzip`/`deflate` body could not be decoded.
    case badCompression(String)

    public var description: String {
        switch self {
        case .invalidURL(let url): "not an http(s) URL: \(url)"
        case .tooManyRedirects(let limit): "more than \(limit) redirects"
        case .redirectLoop(let url): "redirect loop back to \(url)"
        case .bodyTooLarge(let limit): "response body larger than \(limit) bytes"
        case .malformedResponse(let why): "malformed response: \(why)"
        case .incompleteResponse: "the connection closed before the response was complete"
        case .badCompression(let why): "cannot decode the compressed body: \(why)"
        }
    }
}
