import Evy

/// Per-request extras for a handler: post hooks (Evy's `evy.posthooks`) and the peer's address.
public final class HTTPExchange: @unchecked Sendable {
    /// The client's address.
    public let peer: SocketAddress
    var postHooks: [@Sendable () async -> Void] = []

    init(peer: SocketAddress) { self.peer = peer }

    /// Runs `hook` after the response has been sent in full (Evy's WSGI post hooks).
    public func addPostHook(_ hook: @escaping @Sendable () async -> Void) {
        postHooks.append(hook)
    }
}

/// A handler: from a request to a response. Throwing answers 500.
public typealias HTTPHandler = @Sendable (HTTPRequest, HTTPExchange) async throws -> HTTPResponse
