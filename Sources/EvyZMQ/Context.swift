import CZeroMQ
import Evy
import Glibc
import Synchronization

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

    /// libzmq's own error number `EFSM`: the operation is not allowed in the socket's state (a REQ
    /// socket sending twice without receiving). The system's numbers (`EAGAIN`, `EHOSTUNREACH`...)
    /// come from Glibc.
    public static let EFSM = CZeroMQ.EFSM
    /// libzmq's own error number `ETERM`: the socket's context was terminated.
    public static let ETERM = CZeroMQ.ETERM

    /// The operation, libzmq's message for the error and its number.
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
    private let terminated = Atomic<Bool>(false)
    /// The open sockets' handles, for the clean termination at exit.
    private let openSockets = Mutex<Set<UInt>>([])

    /// The process-wide context. It terminates cleanly when the process exits: sockets still open
    /// are closed with their linger capped at one second (so queued messages get out without
    /// blocking the exit for ever), then the context is terminated.
    public static let shared: ZMQContext = {
        let threads = Int32(getenv("EVY_ZMQ_IO_THREADS").flatMap { Int32(String(cString: $0)) } ?? 1)
        // swiftlint:disable:next force_try
        let context = try! ZMQContext(ioThreads: max(threads, 1))
        atexit { ZMQContext.shared.terminateAtExit() }
        return context
    }()

    func socketOpened(_ socket: UnsafeMutableRawPointer) {
        openSockets.withLock { _ = $0.insert(UInt(bitPattern: socket)) }
    }

    func socketClosed(_ socket: UnsafeMutableRawPointer) {
        openSockets.withLock { _ = $0.remove(UInt(bitPattern: socket)) }
    }

    /// At exit no green thread runs any more: close what is left, then terminate.
    private func terminateAtExit() {
        guard !terminated.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let left = openSockets.withLock { sockets in
            let all = sockets
            sockets.removeAll()
            return all
        }
        for address in left {
            guard let socket = UnsafeMutableRawPointer(bitPattern: address) else { continue }
            var linger: Int32 = 0
            var length = MemoryLayout<Int32>.size
            zmq_getsockopt(socket, ZMQ_LINGER, &linger, &length)
            var capped: Int32 = linger < 0 || linger > 1000 ? 1000 : linger
            zmq_setsockopt(socket, ZMQ_LINGER, &capped, MemoryLayout<Int32>.size)
            zmq_close(socket)
        }
        zmq_ctx_term(handle)
    }

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
        guard !terminated.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let handle = UnsafeSendablePointer(handle)
        _ = try await tpool.execute { zmq_ctx_term(handle.pointer) }
    }

    /// libzmq's version, e.g. `4.3.4`.
    public static var libraryVersion: String {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}

struct UnsafeSendablePointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
