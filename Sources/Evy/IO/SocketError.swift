import Glibc

/// A failed socket operation.
public enum SocketError: Error, CustomStringConvertible, Equatable {
    /// A system call failed: the call and `errno`.
    case system(String, Int32)
    /// An address could not be parsed or used.
    case invalidAddress(String)
    /// The socket was closed (by this process) while or before it was used.
    case closed
    /// Name resolution failed.
    case resolution(host: String, String)
    /// The peer closed the connection before a whole line, block or message arrived.
    case unexpectedEOF
    /// A line or message was longer than the limit given.
    case tooLong(limit: Int)

    /// The `errno` of a system-call failure.
    public var errno: Int32? {
        if case .system(_, let code) = self { return code }
        return nil
    }

    /// A one-line account of the failure, with the system's message for `errno`.
    public var description: String {
        switch self {
        case .system(let call, let code): "\(call): \(String(cString: strerror(code))) (errno \(code))"
        case .invalidAddress(let why): "invalid address: \(why)"
        case .closed: "the socket is closed"
        case .resolution(let host, let why): "cannot resolve '\(host)': \(why)"
        case .unexpectedEOF: "the connection closed in the middle of a read"
        case .tooLong(let limit): "more than \(limit) bytes without a delimiter"
        }
    }
}
