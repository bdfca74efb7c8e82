import Glibc

/// Which readiness a green thread waits for on a file descriptor.
public enum IOReadiness: Sendable {
    /// Data to read, a connection to accept, or end of file.
    case readable
    /// Room to write, or a connection established.
    case writable
}

extension Hub {
    /// Suspends the calling green thread until `fd` is ready, `timeout` passes (throws
    /// ``TimeoutError``) or the green thread is killed (throws `CancellationError`) — Eventlet's
    /// `trampoline`, the one wait every green I/O type is built on.
    ///
    /// ```swift
    /// while true {
    ///     let n = read(fd, &buffer, buffer.count)
    ///     if n >= 0 { break }
    ///     guard errno == EAGAIN else { throw SystemError(errno) }
    ///     try await Hub.current.wait(for: .readable, on: fd, timeout: .seconds(30))
    /// }
    /// ```
    /// A descriptor has at most one green thread waiting for each readiness; a second one throws
    /// ``WatchError/alreadyWaiting(fd:)``. An error condition on the descriptor wakes the waiter, and
    /// the next system call reports it. Closing a descriptor does not wake anyone by itself (epoll
    /// just forgets it): call ``notifyClose(_:)`` first, and the waiter throws
    /// ``WatchError/descriptorClosed(fd:)``.
    public func wait(for readiness: IOReadiness, on fd: Int32, timeout: Duration? = nil) async throws {
        // The synchronous work is out of line and the waiter is stored on the descriptor's watcher
        // (no callback, no handle): this frame lives as long as the connection is idle.
        let watcher = try beginWait(for: readiness, on: fd)
        defer { endWait(watcher, readiness) }
        do {
            try await park(deadline: deadline(after: timeout)) { (waiter: Waiter<Void>) in
                watcher.setWaiter(waiter, for: readiness)
            }
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }
}

/// Runs the non-blocking system call `call` until it succeeds or fails with something other than
/// "would block", waiting for `readiness` in between, all within `timeout`. `call` returns nil
/// with `errno` set on failure. `descriptor` gives the current descriptor, or throws once it was
/// closed. With `waitFirst`, waits for readiness before the first call (the caller knows the
/// descriptor is drained, so the call would only fail with EAGAIN). The one retry loop of every
/// green I/O type.
func retryIO<T>(
    on hub: Hub, _ name: String, _ readiness: IOReadiness, timeout: Duration?, waitFirst: Bool = false,
    descriptor: () throws -> Int32, _ call: (Int32) -> T?
) async throws -> T {
    let deadline = timeout.map { hub.now.advanced(by: $0) }
    var skipCall = waitFirst
    while true {
        let fd = try descriptor()
        if !skipCall, let result = call(fd) { return result }
        let code = skipCall ? EAGAIN : errno
        skipCall = false
        switch code {
        case EINTR:
            continue
        case EAGAIN, EWOULDBLOCK:
            let remaining = deadline.map { hub.now.duration(to: $0) }
            if let remaining, remaining <= .zero { throw TimeoutError(duration: timeout ?? .zero) }
            try hub.keepArmed(fd)  // our callers close through notifyClose
            do {
                try await hub.wait(for: readiness, on: fd, timeout: remaining)
            } catch let error as WatchError where error == .descriptorClosed(fd: fd) {
                throw SocketError.closed
            } catch is TimeoutError {
                throw TimeoutError(duration: timeout ?? .zero)
            }
        default:
            throw SocketError.system(name, code)
        }
    }
}
