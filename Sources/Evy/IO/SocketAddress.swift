import Glibc

/// A socket address: IPv4, IPv6 or a Unix-domain path.
///
/// ```swift
/// let local = try SocketAddress(ip: "127.0.0.1", port: 8080)
/// let any6 = try SocketAddress(ip: "::", port: 0)
/// let path = SocketAddress(unixPath: "/tmp/evy.sock")
/// ```
public enum SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 address.
    case ipv4(sockaddr_in)
    /// An IPv6 address.
    case ipv6(sockaddr_in6)
    /// A Unix-domain socket path.
    case unix(String)

    /// Parses a numeric IPv4 or IPv6 address (no name lookup: see ``resolve(host:port:)``).
    public init(ip: String, port: Int) throws {
        guard (0...65535).contains(port) else { throw SocketError.invalidAddress("port \(port) out of range") }
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, ip, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            self = .ipv4(v4)
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            self = .ipv6(v6)
            return
        }
        throw SocketError.invalidAddress("'\(ip)' is not a numeric IPv4 or IPv6 address")
    }

    /// A Unix-domain socket address.
    public init(unixPath: String) {
        self = .unix(unixPath)
    }

    /// Reads an address the kernel filled in.
    init?(storage: sockaddr_storage, length: socklen_t) {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            self = .ipv4(withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in.self) })
        case AF_INET6:
            self = .ipv6(withUnsafeBytes(of: &storage) { $0.load(as: sockaddr_in6.self) })
        case AF_UNIX:
            let path = withUnsafeBytes(of: &storage) { raw -> String in
                let offset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
                let bytes = raw[offset..<Swift.min(Int(length), raw.count)].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            self = .unix(path)
        default:
            return nil
        }
    }

    /// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`).
    public var family: Int32 {
        switch self {
        case .ipv4: AF_INET
        case .ipv6: AF_INET6
        case .unix: AF_UNIX
        }
    }

    /// The IP address as text, or the path of a Unix-domain address.
    public var host: String {
        switch self {
        case .ipv4(var address):
            var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            inet_ntop(AF_INET, &address.sin_addr, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .ipv6(var address):
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &address.sin6_addr, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .unix(let path):
            return path
        }
    }

    /// The port, or 0 for a Unix-domain address.
    public var port: Int {
        switch self {
        case .ipv4(let address): Int(UInt16(bigEndian: address.sin_port))
        case .ipv6(let address): Int(UInt16(bigEndian: address.sin6_port))
        case .unix: 0
        }
    }

    /// `1.2.3.4:80`, `[::1]:80` or the path.
    public var description: String {
        switch self {
        case .ipv4: "\(host):\(port)"
        case .ipv6: "[\(host)]:\(port)"
        case .unix(let path): path
        }
    }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    func withSockAddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) throws -> T {
        switch self {
        case .ipv4(var address):
            return try withUnsafeBytes(of: &address) {
                try body(
                    $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        case .ipv6(var address):
            return try withUnsafeBytes(of: &address) {
                try body(
                    $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let capacity = MemoryLayout.size(ofValue: address.sun_path)
            let bytes = Array(path.utf8)
            guard bytes.count < capacity else {
                throw SocketError.invalidAddress("Unix socket path longer than \(capacity - 1) bytes")
            }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes)
                raw[bytes.count] = 0
            }
            let length = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + bytes.count + 1
            return try withUnsafeBytes(of: &address) {
                try body($0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(length))
            }
        }
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.family == b.family && a.host == b.host && a.port == b.port
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(family)
        hasher.combine(host)
        hasher.combine(port)
    }
}
