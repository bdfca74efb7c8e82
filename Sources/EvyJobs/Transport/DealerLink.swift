import Evy
import EvyZMQ
import Logging

/// A role's connection to another role (a worker's to the dispatcher and the collector, the
/// collector's to the dispatcher): a DEALER socket, the ``Outbox`` that feeds it, and the green
/// threads that send what is posted, serve what arrives and, over tcp and ipc, log refused
/// handshakes (a CURVE key the peer does not allow, keys on one side only: else the role would
/// wait in silence) through the role's ``HandshakeRefusals``.
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
        refusals: HandshakeRefusals, serve: @escaping @Sendable (ZMQSocket) async -> Void
    ) throws {
        let socket = try ZMQSocket.forRole(.dealer)
        if let (keys, server, role) = keys { try keys.connect(socket, to: server, role) }
        try socket.connect(endpoint)
        let outbox = Outbox(socket, logger: logger)
        self.socket = socket
        self.outbox = outbox
        // inproc:// has no handshake to refuse: no monitor (its two sockets) there.
        let handshakes =
            endpoint.hasPrefix("inproc://")
            ? nil : try? socket.monitor(events: [.handshakeFailed, .handshakeFailedProtocol, .handshakeFailedAuth])
        self.handshakes = handshakes
        var threads = [
            spawn(name: "link to \(endpoint): out") { await outbox.run() },
            spawn(name: "link to \(endpoint): in") { await serve(socket) },
        ]
        if let handshakes {
            threads.append(
                spawn(name: "link to \(endpoint): handshakes") {
                    while let event = try? await handshakes.next() {
                        if let line = refusals.note(event.event, at: endpoint) { logger.warning("\(line)") }
                    }
                })
        }
        self.threads = threads
    }

    /// Stops the green threads and closes the socket, letting `linger` go to what is queued.
    func close(linger: Duration) {
        for thread in threads { thread.cancel() }
        handshakes?.close()
        socket.close(linger: linger)
    }
}

/// The handshakes a role's links had refused, per endpoint, kept across its reconnects so that a
/// refused role logs the first refusal at once and then at most one line a minute (libzmq tries
/// again about every 100 ms, and the role makes a new link every few heartbeats). Hub-confined.
final class HandshakeRefusals: @unchecked Sendable {
    private var byEndpoint: [String: (attempts: Int, lastSaid: ContinuousClock.Instant)] = [:]

    /// Counts one refused handshake at `endpoint`; returns the line to log, or nil if one was
    /// logged for it in the minute before `now`.
    func note(_ event: ZMQMonitorEvents, at endpoint: String, now: ContinuousClock.Instant = .now) -> String? {
        if let last = byEndpoint[endpoint], now - last.lastSaid < .seconds(60) {
            byEndpoint[endpoint]!.attempts += 1
            return nil
        }
        let again = byEndpoint[endpoint].map { ", \($0.attempts + 1) attempts in the last minute" } ?? ""
        byEndpoint[endpoint] = (0, now)
        return "\(endpoint) refused the handshake (\(event)\(again)): with CURVE, is this role's public key in "
            + "the peer's --curve-allow directory, and the peer's key the one given here?"
    }
}
