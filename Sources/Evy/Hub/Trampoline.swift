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
        do {
            try await waitUnmapped(for: readiness, on: fd, deadline: deadline(after: timeout))
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }

    /// ``wait(for:on:timeout:)`` throwing ``ParkTimedOut`` as is: the synchronous work is out of
    /// line and the waiter is stored on the descriptor's watcher (no callback, no handle), because
    /// this frame lives as long as a connection is idle.
    func waitUnmapped(for readiness: IOReadiness, on fd: Int32, deadline: ContinuousClock.Instant?) async throws {
        let watcher = try beginWait(for: readiness, on: fd)
        var mine: Waiter<Void>?
        defer { endWait(watcher, readiness, mine) }
        nextWaitLabel.pointee = readiness == .readable ? "readable fd" : "writable fd"
        try await park(deadline: deadline) {
            (waiter: Waiter<Void>) in
            mine = waiter
            watcher.setWaiter(waiter, for: readiness)
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
    // Error handling lives in the synchronous helpers: this frame stays in the task's allocator
    // for as long as a connection is idle, so it must be small.
    let deadline = timeout.map { hub.now.advanced(by: $0) }
    var skipCall = waitFirst
    while true {
        let fd = try descriptor()
        if !skipCall, let result = call(fd) { return result }
        let code = skipCall ? EAGAIN : errno
        skipCall = false
        guard let remaining = try ioWaitBudget(hub, name, code, fd: fd, deadline: deadline, timeout: timeout) else {
            continue  // EINTR
        }
        try await waitForIO(hub, readiness, fd: fd, remaining: remaining, timeout: timeout)
    }
}

/// What to do after a failed call: nil to retry at once (EINTR), the time left to wait (nil
/// duration: no limit) for EAGAIN, or the error to throw.
@inline(never)
private func ioWaitBudget(
    _ hub: Hub, _ name: String, _ code: Int32, fd: Int32, deadline: ContinuousClock.Instant?, timeout: Duration?
) throws -> Duration?? {
    switch code {
    case EINTR:
        return nil
    case EAGAIN, EWOULDBLOCK:
        let remaining = deadline.map { hub.now.duration(to: $0) }
        if let remaining, remaining <= .zero { throw TimeoutError(duration: timeout ?? .zero) }
        try hub.keepArmed(fd)  // our callers close through notifyClose
        return .some(remaining)
    default:
        throw SocketError.system(name, code)
    }
}

/// Waits for `readiness`, turning the watcher's errors into the socket's.
@inline(never)
private func waitForIO(
    _ hub: Hub, _ readiness: IOReadiness, fd: Int32, remaining: Duration?, timeout: Duration?
) async throws {
    do {
        try await hub.waitUnmapped(for: readiness, on: fd, deadline: remaining.map { hub.now.advanced(by: $0) })
    } catch {
        throw ioError(error, fd: fd, timeout: timeout)
    }
}

@inline(never)
private func ioError(_ error: any Error, fd: Int32, timeout: Duration?) -> any Error {
    if let error = error as? WatchError, error == .descriptorClosed(fd: fd) { return SocketError.closed }
    if error is ParkTimedOut || error is TimeoutError { return TimeoutError(duration: timeout ?? .zero) }
    return error
}

/// Writes `count` bytes through `write` (given the descriptor and the offset reached, it makes one
/// non-blocking call and returns its result) in as many calls as it takes, all within `timeout`.
func writeAllIO(
    on hub: Hub, _ name: String, count: Int, timeout: Duration?, descriptor: () throws -> Int32,
    _ write: (Int32, Int) -> Int
) async throws {
    let deadline = timeout.map { hub.now.advanced(by: $0) }
    var offset = 0
    while offset < count {
        let remaining = deadline.map { hub.now.duration(to: $0) }
        if let remaining, remaining <= .zero { throw TimeoutError(duration: timeout ?? .zero) }
        let start = offset
        offset += try await retryIO(on: hub, name, .writable, timeout: remaining ?? timeout, descriptor: descriptor) {
            fd -> Int? in
            let n = write(fd, start)
            return n >= 0 ? n : nil
        }
    }
}

/// One read into a new array of at most `maxLength` bytes, allocated without zeroing; nil (with
/// `errno` kept) if the call failed.
func readIntoNewArray(maxLength: Int, _ read: (UnsafeMutableRawPointer?, Int) -> Int) -> [UInt8]? {
    var failed = false
    var code: Int32 = 0
    let bytes = [UInt8](unsafeUninitializedCapacity: maxLength) { buffer, count in
        let n = read(buffer.baseAddress, buffer.count)
        failed = n < 0
        code = errno
        count = Swift.max(n, 0)
    }
    if failed { errno = code }  // freeing the unused buffer must not hide why
    return failed ? nil : bytes
}

/// Tells `hub` that `fd` is going away and closes it — on the hub's thread: from another thread
/// (a deinit, say) it hops there, because the hub's watchers and libuv belong to that thread, and a
/// poll handle left on a closed number would watch the next descriptor to get it.
func closeOnHub(_ hub: Hub, _ fd: Int32, closeDescriptor: Bool) {
    if hub.isOnHubThread {
        hub.notifyClose(fd)
        if closeDescriptor { close(fd) }
    } else {
        hub.callFromThread {
            hub.notifyClose(fd)
            if closeDescriptor { close(fd) }
        }
    }
}
