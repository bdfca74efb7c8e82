import Evy
import EvyZMQ
import Logging

/// A role's connection to another role (a worker's to the dispatcher and the collector, the
/// collector's to the dispatcher): a DEALER socket, the ``Outbox`` that feeds it, and the two green
/// threads that send what is posted and serve what arrives. Reconnecting is closing one link and
/// making a new one. Hub-confined.
struct DealerLink {
    let socket: ZMQSocket
    let outbox: Outbox
    private let threads: [GreenThread<Void>]

    /// Connects to `endpoint` (with CURVE if `keys` gives this role's keys, the server's public
    /// key and the server's role, for messages) and starts sending and serving (`serve` reads the
    /// socket until it closes). Throws a `ZMQError` for an endpoint that cannot be connected,
    /// ``JobKeysError/missing(_:)`` without the server's key.
    init(
        to endpoint: String, keys: (JobKeys, server: String?, role: String)? = nil, logger: Logger,
        serve: @escaping @Sendable (ZMQSocket) async -> Void
    ) throws {
        let socket = try ZMQSocket.forRole(.dealer)
        if let (keys, server, role) = keys { try keys.connect(socket, to: server, role) }
        try socket.connect(endpoint)
        let outbox = Outbox(socket, logger: logger)
        self.socket = socket
        self.outbox = outbox
        threads = [spawn(name: "link to \(endpoint): out") { await outbox.run() }, spawn(name: "link to \(endpoint): in") { await serve(socket) }]
    }

    /// Stops both green threads and closes the socket, letting `linger` go to what is queued.
    func close(linger: Duration) {
        for thread in threads { thread.cancel() }
        socket.close(linger: linger)
    }
}
