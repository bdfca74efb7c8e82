/// Thrown when a wait with a timeout, or a ``withTimeout(_:_:)`` scope, runs out of time.
public struct TimeoutError: Error, CustomStringConvertible, Equatable {
    /// The duration that ran out.
    public let duration: Duration
    /// The label given to the timeout, if any: tells nested timeouts apart.
    public let label: String?

    /// Creates the error for a timeout of `duration`.
    public init(duration: Duration, label: String? = nil) {
        self.duration = duration
        self.label = label
    }

    /// `timed out after <duration>`, followed by the label in parentheses if there is one.
    public var description: String {
        "timed out after \(duration)" + (label.map { " (\($0))" } ?? "")
    }
}
