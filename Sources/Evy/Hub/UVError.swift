import CLibUV

/// A libuv error code with its message.
public struct UVError: Error, CustomStringConvertible, Equatable {
    /// The negative libuv error code.
    public let code: Int32

    /// Wraps a libuv error code.
    public init(_ code: Int32) { self.code = code }

    /// The libuv name and message of the code, e.g. `ECONNREFUSED: connection refused`.
    public var description: String {
        "\(String(cString: uv_err_name(code))): \(String(cString: uv_strerror(code)))"
    }
}
