import CLibUV
import Glibc

/// Resolves `host` to socket addresses through libuv's resolver (`getaddrinfo` on libuv's thread
/// pool), suspending only the calling green thread. Numeric addresses come back at once.
///
/// ```swift
/// let addresses = try await resolve(host: "localhost", port: 8080)
/// ```
/// - Parameters:
///   - family: `AF_UNSPEC` (both IPv4 and IPv6, in the resolver's preferred order), `AF_INET` or
///     `AF_INET6`.
///   - timeout: throws ``TimeoutError`` past it; the lookup itself is abandoned.
/// - Throws: ``SocketError/resolution(host:_:)`` if the name does not resolve.
public func resolve(
    host: String, port: Int, family: Int32 = Glibc.AF_UNSPEC, type: Int32 = Int32(Glibc.SOCK_STREAM.rawValue),
    timeout: Duration? = nil
) async throws -> [SocketAddress] {
    guard (0...65535).contains(port) else { throw SocketError.invalidAddress("port \(port) out of range") }
    if let numeric = try? SocketAddress(ip: host, port: port) { return [numeric] }
    let hub = Hub.current
    let lookup = Lookup(host: host, port: port)
    var hints = addrinfo()
    hints.ai_family = family
    hints.ai_socktype = type
    do {
        hub.nextWaitLabel.pointee = "DNS lookup"
        return try await hub.park(deadline: hub.deadline(after: timeout)) { (waiter: Waiter<[SocketAddress]>) in
            // Allocated at enrolment, so a wait that never starts (already cancelled) leaks nothing;
            // freed by the callback, which libuv always calls (with ECANCELED if cancelled).
            let request = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
            lookup.waiter = waiter
            lookup.request = request
            request.pointee.data = Unmanaged.passRetained(lookup).toOpaque()
            let status = uv_getaddrinfo(
                hub.loop, request,
                { request, status, result in
                    // Runs on the hub whether or not the green thread still waits; frees everything.
                    let lookup = Unmanaged<Lookup>.fromOpaque(request!.pointee.data).takeRetainedValue()
                    lookup.request = nil
                    defer {
                        if let result { uv_freeaddrinfo(result) }
                        request!.deallocate()
                    }
                    guard let waiter = lookup.waiter else { return }
                    if status < 0 {
                        waiter.resume(throwing: SocketError.resolution(host: lookup.host, UVError(status).description))
                        return
                    }
                    var addresses: [SocketAddress] = []
                    var entry = result
                    while let info = entry {
                        if let address = SocketAddress(addrinfo: info.pointee, port: lookup.port),
                            !addresses.contains(address)
                        {
                            addresses.append(address)
                        }
                        entry = info.pointee.ai_next
                    }
                    waiter.resume(returning: addresses)
                }, host, nil, &hints)
            if status < 0 {
                lookup.request = nil
                Unmanaged<Lookup>.fromOpaque(request.pointee.data).release()
                request.deallocate()
                waiter.resume(throwing: SocketError.resolution(host: host, UVError(status).description))
            }
        }
    } catch {
        // Timed out or cancelled: give the resolver thread back if the lookup has not started.
        if let request = lookup.request {
            request.withMemoryRebound(to: uv_req_t.self, capacity: 1) { _ = uv_cancel($0) }
        }
        if error is ParkTimedOut { throw TimeoutError(duration: timeout ?? .zero) }
        throw error
    }
}

/// One resolution in flight: what the libuv callback needs.
private final class Lookup {
    let host: String
    let port: Int
    var waiter: Waiter<[SocketAddress]>?
    /// The request while libuv has it.
    var request: UnsafeMutablePointer<uv_getaddrinfo_t>?

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

extension SocketAddress {
    init?(addrinfo info: addrinfo, port: Int) {
        guard let raw = info.ai_addr else { return nil }
        switch info.ai_family {
        case AF_INET:
            var address = UnsafeRawPointer(raw).load(as: sockaddr_in.self)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            self = .ipv4(address)
        case AF_INET6:
            var address = UnsafeRawPointer(raw).load(as: sockaddr_in6.self)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            self = .ipv6(address)
        default:
            return nil
        }
    }
}
