/// Why a request could not be read.
public enum HTTPParseError: Error, Equatable, CustomStringConvertible {
    /// Not HTTP, or broken HTTP (the parser's reason).
    case malformed(String)
    /// The request line and headers exceeded the limit.
    case headersTooLarge(limit: Int)
    /// The body exceeded the limit.
    case bodyTooLarge(limit: Int)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed request: \(why)"
        case .headersTooLarge(let limit): "request headers larger than \(limit) bytes"
        case .bodyTooLarge(let limit): "request body larger than \(limit) bytes"
        }
    }
}
