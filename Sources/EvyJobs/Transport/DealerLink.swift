import Evy
import EvyZMQ
import Logging

/// A role's connection to another role (a worker's to the dispatcher and the collector, the
/// collector's to the dispatcher): a DEALER socket, the ``Outbox`` that feeds it, and the green
/// threads that send what is posted, serve what arrives and log refused handshakes (a CURVE key
/// the peer does not allow, keys on one side only: else the role would wait in silence).
/// Reconnecting is closing one link and making a new one. Hub-confined.
struct DealerLink {
    let socket: ZMQSocket
    let outbox: Outbox
    private let threads: [GreenThread<Void>]
    private let handshakes: ZMQMonitor?

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
        let handshakes = try? socket.monitor(events: [.handshakeFailed, .handshakeFailedProtocol, .handshakeFailedAuth])
        self.handshakes = handshakes
        threads = [
            spawn(name: "link to \(endpoint): out") { await outbox.run() },
            spawn(name: "link to \(endpoint): in") { await serve(socket) },
        ] + (handshakes.map { monitor in [spawn(name: "link to \(endpoint): handshakes") { await Self.report(monitor, endpoint, logger) }] } ?? [])
    }

    /// Logs the link's first refused handshake, then at most one a minute with the attempts
    /// since (libzmq tries again about every 100 ms).
    private static func report(_ monitor: ZMQMonitor, _ endpoint: String, _ logger: Logger) async {
        var attempts = 0
        var lastSaid: ContinuousClock.Instant?
        while let event = try? await monitor.next() {
            attempts += 1
            if let lastSaid, ContinuousClock.now - lastSaid < .seconds(60) { continue }
            let again = lastSaid == nil ? "" : ", \(attempts) attempts in the last minute"
            lastSaid = .now
            attempts = 0
            logger.warning(
                "\(endpoint) refused the handshake (\(event.event)\(again)): with CURVE, is this role's public key in the peer's --curve-allow directory, and the peer's key the one given here?")
        }
    }

    /// Stops the green threads and closes the socket, letting `linger` go to what is queued.
    func close(linger: Duration) {
        for thread in threads { thread.cancel() }
        handshakes?.close()
        socket.close(linger: linger)
    }
}
