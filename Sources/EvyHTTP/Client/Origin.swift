import Foundation

/// Where a URL's requests go: scheme, host and port, the host in lower case (host names are
/// case-insensitive). Keep-alive connections are pooled per origin, and credentials are kept for
/// the origin they were given for. A value type.
struct Origin: Hashable, CustomStringConvertible {
    /// `http` or `https`.
    let scheme: String
    /// The host as in the URL, lower case.
    let host: String
    /// The port, the scheme's default when the URL names none.
    let port: Int

    /// The origin of an absolute http(s) URL with a host; nil for any other URL.
    init?(_ url: URL) {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        port = url.port ?? (scheme == "https" ? 443 : 80)
    }

    /// Whether requests go over TLS.
    var isSecure: Bool { scheme == "https" }

    var description: String { "\(scheme)://\(host):\(port)" }
}
