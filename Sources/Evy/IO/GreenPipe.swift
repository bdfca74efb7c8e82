import Glibc

/// A green stream over a pipe, a TTY or another stream descriptor (Evy's `GreenPipe` and green
/// `os.read`/`os.write`): reads and writes suspend only the calling green thread.
///
/// ```swift
/// let (reader, writer) = try GreenPipe.makePipe()
/// spawnN { try await writer.sendAll(Array("hello".utf8)); writer.close() }
/// let bytes = try await reader.receive()
/// ```
/// Hub-confined, like ``Socket``.
public final class GreenPipe: GreenStream, @unchecked Sendable {
    /// The file descriptor, or -1 once closed.
    public private(set) var fd: Int32
    /// The timeout of every wait that does not give its own.
    public var timeout: Duration?
    /// Whether ``close()`` closes the descriptor (false for the standard streams).
    private let ownsDescriptor: Bool
    let hub: Hub

    /// Wraps `fd`, making it non-blocking. With `owning`, ``close()`` (and deinit) close it.
    public init(adopting fd: Int32, owning: Bool = true) throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SocketError.system("fcntl", errno)
        }
        self.fd = fd
        ownsDescriptor = owning
        hub = Hub.current
    }

    /// A new pipe: its read end and its write end, both green.
    public static func makePipe() throws -> (read: GreenPipe, write: GreenPipe) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SocketError.system("pipe", errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (try GreenPipe(adopting: fds[0]), try GreenPipe(adopting: fds[1]))
    }

    deinit { close() }

    private func liveFD() throws -> Int32 {
        guard fd >= 0 else { throw SocketError.closed }
        return fd
    }

    /// Closes the descriptor (if owned); green threads waiting on it throw ``SocketError/closed``.
    public func close() {
        guard fd >= 0 else { return }
        let closing = fd
        fd = -1
        // A descriptor we do not own (a standard stream) stays open, and other users may still be
        // waiting on it: leave its watcher alone.
        guard ownsDescriptor else { return }
        closeOnHub(hub, closing, closeDescriptor: true)
    }

    /// Reads at most `maxLength` bytes, waiting for some; empty at end of file.
    public func receive(maxLength: Int = 65536, timeout: Duration? = nil) async throws -> [UInt8] {
        try await retryIO(on: hub, "read", .readable, timeout: timeout ?? self.timeout, descriptor: liveFD) { fd in
            readIntoNewArray(maxLength: maxLength) { Glibc.read(fd, $0, $1) }
        }
    }

    /// Writes some of `bytes`, waiting for room; returns how many were written.
    public func send(_ bytes: [UInt8], timeout: Duration? = nil) async throws -> Int {
        try await retryIO(on: hub, "write", .writable, timeout: timeout ?? self.timeout, descriptor: liveFD) {
            fd -> Int? in
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            return n >= 0 ? n : nil
        }
    }

    /// Writes all of `bytes`; a closed reader end throws ``SocketError/system(_:_:)`` with `EPIPE`.
    public func sendAll(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        try await writeAllIO(on: hub, "write", count: bytes.count, timeout: timeout ?? self.timeout, descriptor: liveFD)
        { fd, offset in
            bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
        }
    }
}

/// The process's standard streams as green pipes (they are made non-blocking on first use, and
/// never closed by Evy).
///
/// Like Eventlet's green stdio, making them non-blocking affects whoever shares them (a child
/// started with `.inherit`, the shell after exit): use them in programs that own their terminal or
/// pipes.
public enum GreenStandardStreams {
    /// Standard input.
    public static var input: GreenPipe { get throws { try GreenPipe(adopting: STDIN_FILENO, owning: false) } }
    /// Standard output.
    public static var output: GreenPipe { get throws { try GreenPipe(adopting: STDOUT_FILENO, owning: false) } }
    /// Standard error.
    public static var error: GreenPipe { get throws { try GreenPipe(adopting: STDERR_FILENO, owning: false) } }
}
