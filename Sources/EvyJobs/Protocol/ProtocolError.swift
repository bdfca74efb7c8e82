/// Why ``MessageCodec/decode(_:)`` refused a message: the code the ERROR reply carries and a
/// reason for a human. A plain value, safe to send anywhere.
public struct ProtocolError: Error, Equatable, CustomStringConvertible {
    /// The code to answer with: ``ErrorCode/malformed``, ``ErrorCode/tooLarge`` or
    /// ``ErrorCode/unsupportedVersion``.
    public var code: ErrorCode
    /// What was wrong, for a log or the ERROR's reason (ASCII, short).
    public var reason: String

    /// An error with `code` and `reason`.
    public init(code: ErrorCode, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `reason`, then the code's number: `truncated header (400)`.
    public var description: String { "\(reason) (\(code.rawValue))" }

    /// A message that cannot be read.
    static func malformed(_ reason: String) -> ProtocolError { ProtocolError(code: .malformed, reason: reason) }
}
