import CLibUV
import Glibc

/// A green socket: BSD socket semantics, but every call that would block suspends only the calling
/// green thread (Evy's `GreenSocket`). TCP over IPv4 and IPv6, UDP and Unix-domain sockets.
///
/// ```swift
/// let server = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
/// let (client, peer) = try await server.accept()
/// let request = try await client.receive(maxLength: 4096)
/// try await client.sendAll(request)
/// client.close()
/// ```
/// A socket belongs to the hub that created it; use it from that hub's green threads. One green
/// thread at a time may read and one may write (``WatchError/alreadyWaiting(fd:)`` otherwise).
/// Every wait takes a `timeout` (throwing ``TimeoutError``); without one, the socket's own
/// ``timeout`` applies (nil: wait for ever). Killing the green thread interrupts any wait.
public final class Socket: @unchecked Sendable {
    /// The file descriptor, or -1 once closed.
    public private(set) var fd: Int32
    /// `AF_INET`, `AF_INET6` or `AF_UNIX`.
    public let family: Int32
    /// `SOCK_STREAM` or `SOCK_DGRAM`.
    public let type: Int32
    /// The timeout of every wait that does not give its own (Eventlet's `settimeout`).
    public var timeout: Duration?
    let hub: Hub
    /// Whether the last receive came back short, so the kernel's buffer is probably empty: the
    /// next receive waits for readiness first instead of spending a system call on EAGAIN
    /// (request/response traffic: one system call less per request).
    private var probablyDrained = false

    /// Creates a socket (non-blocking, close-on-exec).
    public init(family: Int32 = AF_INET, type: Int32 = Int32(Glibc.SOCK_STREAM.rawValue), protocol: Int32 = 0) throws {
        let fd = Glibc.socket(family, type | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), `protocol`)
        guard fd >= 0 else { throw SocketError.system("socket", errno) }
        self.fd = fd
        self.family = family
        self.type = type
        hub = Hub.current
    }

    /// Takes ownership of a connected or listening descriptor, making it non-blocking.
    public init(adopting fd: Int32, family: Int32, type: Int32) throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SocketError.system("fcntl", errno)
        }
        self.fd = fd
        self.family = family
        self.type = type
        hub = Hub.current
    }

    deinit { close() }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { fd < 0 }

    /// Whether bytes, or the peer's end of stream, wait to be read; never waits. An idle
    /// keep-alive connection should have nothing to read: if it has, the peer closed it or sent
    /// what nobody asked for. A closed socket answers true.
    public var hasPendingInput: Bool {
        guard fd >= 0 else { return true }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    private func liveFD() throws -> Int32 {
        guard fd >= 0 else { throw SocketError.closed }
        return fd
    }

    /// Closes the socket. Green threads waiting on it throw ``SocketError/closed``. Idempotent.
    public func close() {
        guard fd >= 0 else { return }
        let closing = fd
        fd = -1
        closeOnHub(hub, closing, closeDescriptor: true)
    }

    // MARK: The one retry loop

    @usableFromInline
    func retrying<T>(
        _ name: String, _ readiness: IOReadiness, timeout: Duration?, waitFirst: Bool = false, _ call: (Int32) -> T?
    ) async throws -> T {
        try await retryIO(
            on: hub, name, readiness, timeout: timeout ?? self.timeout, waitFirst: waitFirst, descriptor: liveFD, call)
    }

    // MARK: Server side

    /// Binds the socket to `address`.
    public func bind(to address: SocketAddress) throws {
        let fd = try liveFD()
        try address.withSockAddr { pointer, length in
            guard Glibc.bind(fd, pointer, length) == 0 else { throw SocketError.system("bind", errno) }
        }
    }

    /// Starts listening for connections.
    public func listen(backlog: Int32 = 128) throws {
        guard Glibc.listen(try liveFD(), backlog) == 0 else { throw SocketError.system("listen", errno) }
    }

    /// Waits for and accepts a connection: the connected socket and the peer's address.
    public func accept(timeout: Duration? = nil) async throws -> (Socket, SocketAddress) {
        let family = self.family
        let type = self.type
        let (fd, address) = try await retrying("accept", .readable, timeout: timeout) {
            fd -> (Int32, SocketAddress?)? in
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &length) }
            }
            guard client >= 0 else { return nil }
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            return (client, SocketAddress(storage: storage, length: length))
        }
        let socket = try Socket(adoptingNonBlocking: fd, family: family, type: type)
        return (socket, address ?? SocketAddress(unixPath: ""))
    }

    private init(adoptingNonBlocking fd: Int32, family: Int32, type: Int32) throws {
        self.fd = fd
        self.family = family
        self.type = type
        hub = Hub.current
    }

    // MARK: Client side

    /// Connects to `address`, waiting up to `timeout` for the connection to be established.
    public func connect(to address: SocketAddress, timeout: Duration? = nil) async throws {
        let fd = try liveFD()
        let started = try address.withSockAddr { pointer, length -> Bool in
            if Glibc.connect(fd, pointer, length) == 0 { return true }
            if errno == EINPROGRESS || errno == EAGAIN || errno == EINTR { return false }
            throw SocketError.system("connect", errno)
        }
        if started { return }
        let limit = timeout ?? self.timeout
        do {
            try await hub.wait(for: .writable, on: fd, timeout: limit)
        } catch let error as WatchError where error == .descriptorClosed(fd: fd) {
            throw SocketError.closed
        }
        let error = try intOption(SOL_SOCKET, SO_ERROR)
        guard error == 0 else { throw SocketError.system("connect", Int32(error)) }
    }

    // MARK: Data

    /// Receives at most `maxLength` bytes, waiting for some; an empty result means the peer closed
    /// its side (end of file).
    ///
    /// The buffer is allocated only once data is there: an idle connection holds no buffer while
    /// its green thread waits.
    public func receive(maxLength: Int = 65536, timeout: Duration? = nil) async throws -> [UInt8] {
        let bytes = try await retrying("recv", .readable, timeout: timeout, waitFirst: probablyDrained) { fd in
            readIntoNewArray(maxLength: maxLength) { recv(fd, $0, $1, 0) }
        }
        probablyDrained = !bytes.isEmpty && bytes.count < maxLength
        return bytes
    }

    /// Receives into `buffer`, waiting for data; returns the byte count (0: end of file).
    public func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration? = nil) async throws -> Int {
        let count = try await retrying("recv", .readable, timeout: timeout, waitFirst: probablyDrained) { fd -> Int? in
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            return n >= 0 ? n : nil
        }
        probablyDrained = count > 0 && count < buffer.count
        return count
    }

    /// Sends some of `bytes`, waiting for room; returns how many were sent.
    public func send(_ bytes: [UInt8], timeout: Duration? = nil) async throws -> Int {
        try await retrying("send", .writable, timeout: timeout) { fd -> Int? in
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            return n >= 0 ? n : nil
        }
    }

    /// Sends all of `bytes`, waiting for room as often as needed. With a timeout, it bounds the
    /// whole call.
    public func sendAll(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        try await writeAllIO(on: hub, "send", count: bytes.count, timeout: timeout ?? self.timeout, descriptor: liveFD)
        { fd, offset in
            bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
        }
    }

    /// Sends all the bytes `buffer` points at. The memory must stay valid until the call returns
    /// (allocate it, or keep the array it belongs to alive): the hot-path form, with no copy.
    public func sendAll(_ buffer: UnsafeRawBufferPointer, timeout: Duration? = nil) async throws {
        try await writeAllIO(on: hub, "send", count: buffer.count, timeout: timeout ?? self.timeout, descriptor: liveFD)
        { fd, offset in
            Glibc.send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
        }
    }

    /// Sends all of `text` as UTF-8.
    public func sendAll(_ text: String, timeout: Duration? = nil) async throws {
        try await sendAll(Array(text.utf8), timeout: timeout)
    }

    /// Sends a datagram to `address` (UDP, Unix datagram).
    @discardableResult
    public func send(_ bytes: [UInt8], to address: SocketAddress, timeout: Duration? = nil) async throws -> Int {
        try address.withSockAddr { _, _ in }  // an unusable address is an error, not a retry
        return try await retrying("sendto", .writable, timeout: timeout) { fd -> Int? in
            let n = try? address.withSockAddr { pointer, length in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), pointer, length) }
            }
            guard let n, n >= 0 else { return nil }
            return n
        }
    }

    /// Receives a datagram of at most `maxLength` bytes and the address it came from.
    public func receiveFrom(maxLength: Int = 65536, timeout: Duration? = nil) async throws -> ([UInt8], SocketAddress?)
    {
        var buffer = [UInt8](repeating: 0, count: maxLength)
        let (count, address) = try await retrying("recvfrom", .readable, timeout: timeout) {
            fd -> (Int, SocketAddress?)? in
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length)
                    }
                }
            }
            guard n >= 0 else { return nil }
            return (n, SocketAddress(storage: storage, length: length))
        }
        buffer.removeSubrange(count...)
        return (buffer, address)
    }

    /// Which direction ``shutdown(_:)`` closes.
    public enum ShutdownHow: Sendable {
        /// No more receiving.
        case read
        /// No more sending: the peer reads end of file (a half-close).
        case write
        /// Both.
        case both
    }

    /// Shuts down one or both directions of the connection.
    public func shutdown(_ how: ShutdownHow) throws {
        let value: Int32 =
            switch how {
            case .read: Int32(SHUT_RD)
            case .write: Int32(SHUT_WR)
            case .both: Int32(SHUT_RDWR)
            }
        guard Glibc.shutdown(try liveFD(), value) == 0 else { throw SocketError.system("shutdown", errno) }
    }

    // MARK: Options and addresses

    /// Sets an integer socket option (`setsockopt`).
    public func setOption(_ level: Int32, _ name: Int32, _ value: Int32) throws {
        var value = value
        guard setsockopt(try liveFD(), level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SocketError.system("setsockopt", errno)
        }
    }

    /// Reads an integer socket option (`getsockopt`).
    public func intOption(_ level: Int32, _ name: Int32) throws -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(try liveFD(), level, name, &value, &length) == 0 else {
            throw SocketError.system("getsockopt", errno)
        }
        return value
    }

    /// The address the socket is bound to.
    public var localAddress: SocketAddress? { address(getsockname) }

    /// The address of the connected peer.
    public var peerAddress: SocketAddress? { address(getpeername) }

    private func address(
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) -> SocketAddress? {
        guard fd >= 0 else { return nil }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        return status == 0 ? SocketAddress(storage: storage, length: length) : nil
    }
}

extension Socket: GreenStream {
    /// Half-closes the socket (``shutdown(_:)`` with `.write`), ignoring a socket already closed.
    public func shutdownWrite() { try? shutdown(.write) }
}
