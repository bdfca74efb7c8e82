import DequeModule
import Evy
import EvyZMQ
import Logging

/// Messages waiting to go out on one socket, sent in order by one green thread: code that runs
/// outside a green thread (journal completions, timers) posts without waiting, and messages
/// posted together go out back to back. A message to a ROUTER peer that has gone is dropped by
/// ZeroMQ; a send that fails is logged and dropped (the protocol re-sends what matters).
/// Hub-confined.
final class Outbox: @unchecked Sendable {
    private let socket: ZMQSocket
    private var queue = Deque<(peer: [UInt8]?, message: Message)>()
    private let posted = Flag()
    /// Set while nothing waits to be sent.
    private let sent = Flag()
    private let logger: Logger

    init(_ socket: ZMQSocket, logger: Logger) {
        self.socket = socket
        self.logger = logger
        sent.set()
    }

    /// Waits until every message posted so far has been handed to the socket, or `deadline`.
    func flush(until deadline: ContinuousClock.Instant) async {
        _ = try? await sent.wait(timeout: max(.zero, deadline - .now))
    }

    /// Queues `message` (to `peer` on a ROUTER socket).
    func post(_ message: Message, to peer: [UInt8]? = nil) {
        queue.append((peer, message))
        sent.clear()
        posted.set()
    }

    /// Sends what is posted until the socket closes or the green thread is killed.
    func run() async {
        while !socket.isClosed {
            guard (try? await posted.wait()) != nil else { return }
            posted.clear()
            while let (peer, message) = queue.popFirst() {
                do {
                    try await socket.send(message, to: peer, timeout: .seconds(5))
                } catch is CancellationError {
                    return
                } catch {
                    if socket.isClosed { return }
                    logger.warning("dropped an outgoing message: \(error)")
                }
            }
            sent.set()
        }
    }
}
