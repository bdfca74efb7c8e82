import Evy
import Glibc

/// Where an operations endpoint listens: `HOST:PORT` (`127.0.0.1:9100`, `[::1]:9100`, `:9100` for
/// every IPv4 interface, `[::]:9100` for every interface, port 0 for any free one) or `unix:PATH`.
/// A value; parsing is pure.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The socket address to bind.
    public let address: SocketAddress

    /// Parses `text`; throws ``OpsError/badAddress(_:)`` for anything else.
    public init(_ text: String) throws {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw OpsError.badAddress(text) }
            address = SocketAddress(unixPath: path)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw OpsError.badAddress(text) }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "0.0.0.0" }
        do { address = try SocketAddress(ip: host, port: port) } catch { throw OpsError.badAddress(text) }
    }

    /// Whether only this machine can reach it (loopback or a Unix socket).
    public var isLocal: Bool {
        switch address {
        case .unix: return true
        default: return address.host == "::1" || address.host.hasPrefix("127.")
        }
    }

    public var description: String { Self.text(address) }

    /// `address` as this type writes it (`HOST:PORT`, `[V6]:PORT`, `unix:PATH`).
    static func text(_ address: SocketAddress) -> String {
        if case .unix(let path) = address { return "unix:\(path)" }
        return address.family == AF_INET6 ? "[\(address.host)]:\(address.port)" : "\(address.host):\(address.port)"
    }
}

/// What the operations endpoints refuse.
public enum OpsError: Error, Equatable, CustomStringConvertible {
    /// An address that is neither `HOST:PORT` nor `unix:PATH`.
    case badAddress(String)
    /// The inspection endpoint asked to listen beyond this machine without `allowRemote`.
    case notLocal(String)
    /// A Unix socket's path that is taken (a live socket, or not a socket at all).
    case inUse(String)

    public var description: String {
        switch self {
        case .badAddress(let text): "not an address to listen on: '\(text)' (HOST:PORT or unix:PATH)"
        case .notLocal(let text):
            "the inspection endpoint listens on this machine only (127.0.0.1, ::1 or unix:PATH), not \(text); "
                + "allow it explicitly to open it wider"
        case .inUse(let why): "cannot listen there: \(why)"
        }
    }
}
