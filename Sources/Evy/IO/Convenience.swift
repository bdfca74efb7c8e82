import Glibc
import Logging

/// Opens a listening socket on `address`, with `SO_REUSEADDR` set (Eventlet's `listen`). Port 0
/// picks a free port: read it back from ``Socket/localAddress``.
///
/// ```swift
/// let server = try listen(on: SocketAddress(ip: "0.0.0.0", port: 6000))
/// ```
public func listen(on address: SocketAddress, backlog: Int32 = 128, reusePort: Bool = false) throws -> Socket {
    let socket = try Socket(family: address.family, type: Int32(Glibc.SOCK_STREAM.rawValue))
    if address.family != AF_UNIX {
        try socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        if reusePort { try socket.setOption(SOL_SOCKET, SO_REUSEPORT, 1) }
    }
    try socket.bind(to: address)
    try socket.listen(backlog: backlog)
    return socket
}

/// Opens a listening socket on `host` (a name or a numeric address) and `port`.
public func listen(host: String, port: Int, backlog: Int32 = 128) async throws -> Socket {
    guard let address = try await resolve(host: host, port: port).first else {
        throw SocketError.resolution(host: host, "no address")
    }
    return try listen(on: address, backlog: backlog)
}

/// Opens a connection to `address` (Eventlet's `connect`), optionally from a local `bind`
/// address, waiting up to `timeout` for it to be established.
public func connect(to address: SocketAddress, bind: SocketAddress? = nil, timeout: Duration? = nil) async throws
    -> Socket
{
    let type = Int32(Glibc.SOCK_STREAM.rawValue)
    let socket = try Socket(family: address.family, type: type)
    if let bind { try socket.bind(to: bind) }
    try await socket.connect(to: address, timeout: timeout)
    return socket
}

/// Resolves `host` and connects to its addresses in turn until one accepts; `timeout` bounds the
/// whole attempt. Throws the last address's error if none accepts.
public func connect(host: String, port: Int, bind: SocketAddress? = nil, timeout: Duration? = nil) async throws
    -> Socket
{
    let hub = Hub.current
    let deadline = timeout.map { hub.now.advanced(by: $0) }
    let addresses = try await resolve(host: host, port: port, timeout: timeout)
    var lastError: any Error = SocketError.resolution(host: host, "no address")
    for (index, address) in addresses.enumerated() {
        let remaining = deadline.map { hub.now.duration(to: $0) }
        if let remaining, remaining <= .zero { throw TimeoutError(duration: timeout ?? .zero) }
        // Each address gets its share of what is left, so one that swallows packets (a broken
        // IPv6 route) cannot use up the whole budget before the others are tried.
        let share = remaining.map { $0 / (addresses.count - index) }
        do {
            return try await connect(to: address, bind: bind, timeout: share)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            lastError = error
        }
    }
    throw lastError
}

/// Thrown by a ``serve(_:concurrency:_:)`` handler to end the server gracefully (Eventlet's
/// `StopServe`).
public struct StopServe: Error, Equatable {
    /// Creates the request to stop.
    public init() {}
}

/// Runs a server on `listener` (Eventlet's `serve`): accepts connections and calls `handle` for
/// each in a green thread of its own, at most `concurrency` at once; while at the limit it stops
/// accepting until a handler finishes.
///
/// It returns when a handler throws ``StopServe`` or the listener is closed. Any other error a
/// handler throws ends the server and is thrown from `serve`, so handlers should catch what they
/// expect (a peer that resets, say). Handlers still running keep running. Killing the green thread
/// that runs `serve` stops it too. The client socket is closed when its handler returns.
///
/// ```swift
/// try await serve(try listen(on: SocketAddress(ip: "127.0.0.1", port: 6000))) { client, _ in
///     while case let data = try await client.receive(), !data.isEmpty {
///         try await client.sendAll(data)
///     }
/// }
/// ```
public func serve(
    _ listener: Socket, concurrency: Int = 1000,
    _ handle: @escaping @Sendable (Socket, SocketAddress) async throws -> Void
) async throws {
    precondition(concurrency >= 1, "serve needs a concurrency of at least 1")
    let outcome = Event<Void>()
    let slots = Semaphore(concurrency)
    let acceptor = spawn(name: "serve accept loop") {
        do {
            try await acceptLoop(listener, slots: slots) { client, address in
                spawnN(name: "serve handler") {
                    // Kept lean: this frame lives as long as the connection.
                    defer { handlerEnded(client, slots) }
                    do { try await handle(client, address) } catch { handlerFailed(error, outcome) }
                }
            }
            try? outcome.send(())  // the listener was closed
        } catch is CancellationError {
        } catch {
            try? outcome.send(error: error)
        }
    }
    defer { acceptor.cancel() }
    try await outcome.wait()
}

@inline(never)
private func handlerEnded(_ client: Socket, _ slots: Semaphore) {
    client.close()
    slots.release()
}

/// A handler's error: ``StopServe`` ends the server normally, cancellation is quiet, anything else
/// ends it with that error.
@inline(never)
private func handlerFailed(_ error: any Error, _ outcome: Event<Void>) {
    switch error {
    case is StopServe: try? outcome.send(())
    case is CancellationError: break
    default: try? outcome.send(error: error)
    }
}

private let serveLogger = Logger(label: "evy.serve")
let tlsLogger = Logger(label: "evy.tls")

/// Accepts until the listener closes (returns) or an unexpected error (throws). A full descriptor
/// table is waited out with a backoff instead of spinning or crashing.
private func acceptLoop(
    _ listener: Socket, slots: Semaphore, _ start: (Socket, SocketAddress) -> Void
) async throws {
    var backoff = Duration.milliseconds(10)
    while true {
        // At the concurrency limit, look at the listener now and then: closing it must end the
        // server even while every handler is still busy.
        while try await !slots.acquire(timeout: .milliseconds(100)) {
            if listener.isClosed { return }
        }
        do {
            let (client, address) = try await listener.accept(timeout: nil)
            backoff = .milliseconds(10)
            start(client, address)
        } catch SocketError.closed {
            slots.release()
            return
        } catch is TimeoutError {
            slots.release()  // a listener with its own timeout: nobody came, keep accepting
            continue
        } catch let error as SocketError {
            slots.release()
            switch error.errno {
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                serveLogger.warning("accept: \(error); retrying in \(backoff)")
                try await sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(1))
            case ECONNABORTED, EPROTO, EPERM:
                continue  // the peer gave up before we accepted: not the server's problem
            default:
                throw error
            }
        } catch {
            slots.release()
            throw error
        }
    }
}
