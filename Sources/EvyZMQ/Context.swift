import CZeroMQ
import Evy
import Glibc

/// A ZeroMQ error: the `errno` libzmq reported and its message.
public struct ZMQError: Error, CustomStringConvertible, Equatable {
    /// The error number (`EAGAIN`, `EFSM`, `ETERM`, `EHOSTUNREACH`...).
    public let code: Int32
    /// What was being done.
    public let operation: String

    /// Wraps `code`.
    public init(_ operation: String, _ code: Int32 = zmq_errno()) {
        self.operation = operation
        self.code = code
    }

    /// The socket was closed (by this process) before or while it was used.
    public static func closed(_ operation: String) -> ZMQError { ZMQError(operation, ENOTSOCK) }

    /// Whether the operation would have had to wait (a non-blocking call).
    public var wouldBlock: Bool { code == EAGAIN }

    public var description: String {
        "\(operation): \(String(cString: zmq_strerror(code))) (errno \(code))"
    }
}

/// A ZeroMQ context: the I/O threads behind a process's sockets (`zmq.Context`). Most programs use
/// the shared ``ZMQContext/shared``, whose I/O thread count comes from `EVY_ZMQ_IO_THREADS`
/// (default 1).
///
/// ```swift
/// let socket = try ZMQSocket(.push)                     // on the shared context
/// let context = try ZMQContext(ioThreads: 2)            // or one of your own
/// let pull = try ZMQSocket(.pull, context: context)
/// ```
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private var terminated = false

    /// The process-wide context.
    public static let shared: ZMQContext = {
        let threads = Int32(getenv("EVY_ZMQ_IO_THREADS").flatMap { Int32(String(cString: $0)) } ?? 1)
        // swiftlint:disable:next force_try
        return try! ZMQContext(ioThreads: max(threads, 1))
    }()

    /// Creates a context with `ioThreads` I/O threads and room for `maxSockets` sockets (libzmq's
    /// default is 1,023; each socket also holds one file descriptor).
    public init(ioThreads: Int32 = 1, maxSockets: Int32? = nil) throws {
        guard let handle = zmq_ctx_new() else { throw ZMQError("zmq_ctx_new") }
        zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
        if let maxSockets { zmq_ctx_set(handle, ZMQ_MAX_SOCKETS, maxSockets) }
        self.handle = handle
    }

    /// Terminates the context once its sockets are closed (honouring their linger), waiting on a
    /// tpool thread so the hub keeps running. Sockets still open afterwards fail with `ETERM`.
    public func terminate() async throws {
        guard !terminated else { return }
        terminated = true
        let handle = UnsafeSendablePointer(handle)
        _ = try await tpool.execute { zmq_ctx_term(handle.pointer) }
    }

    /// libzmq's version, e.g. `4.3.4`.
    public static var libraryVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}

struct UnsafeSendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
