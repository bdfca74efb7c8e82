import Evy

/// An open client connection: the socket (to ask whether it still looks alive), the stream
/// requests go over (the socket or TLS over it), and a buffered reader on that stream.
/// Hub-confined.
final class ClientConnection {
    let socket: Socket
    let stream: any GreenStream
    let buffered: BufferedStream
    /// When it was last put back in its pool.
    fileprivate(set) var idleSince = ContinuousClock.now
    /// The origin's pool it is idle in, while it is.
    fileprivate weak var idleIn: ConnectionPool.OriginPool?
    /// Counts its stays in a pool, to tell the current one from earlier ones in the LRU list.
    fileprivate var idleStays = 0

    init(_ socket: Socket, _ stream: any GreenStream) {
        self.socket = socket
        self.stream = stream
        buffered = stream.buffered()
    }

    func close() { stream.close() }

    /// Whether the server has neither closed it nor sent anything unasked while it sat idle.
    var looksAlive: Bool { !socket.hasPendingInput }
}

/// The keep-alive connections of an ``HTTPClient``: per origin, a limit on connections in use
/// (more requests wait for a slot) and the idle ones, most recently used taken first, closed once
/// idle longer than the timeout; across origins, a cap on idle connections, the least recently
/// used closed first. Hub-confined: one per client.
final class ConnectionPool {
    fileprivate final class OriginPool {
        let slots: Evy.Semaphore
        var idle: [ClientConnection] = []
        init(limit: Int) { slots = Evy.Semaphore(limit) }
    }

    private let maxPerOrigin: Int
    private let idleTimeout: Duration
    private let maxIdle: Int
    private var pools: [Origin: OriginPool] = [:]
    /// Idle connections in all pools.
    private var idleCount = 0
    /// Every connection put in a pool, oldest first; those taken out since are skipped when this
    /// is read (and dropped from it now and then).
    private var idleOrder: [(connection: ClientConnection, stay: Int)] = []
    private var idleOrderStart = 0

    init(maxPerOrigin: Int, idleTimeout: Duration, maxIdle: Int) {
        self.maxPerOrigin = maxPerOrigin
        self.idleTimeout = idleTimeout
        self.maxIdle = maxIdle
    }

    /// Runs `body` holding one of `origin`'s slots, waiting for one if all are in use (and
    /// throwing if that wait is interrupted).
    func withSlot<T>(for origin: Origin, _ body: () async throws -> T) async throws -> T {
        let pool = self.pool(for: origin)
        try await pool.slots.acquire()
        defer { pool.slots.release() }
        return try await body()
    }

    /// The most recently used idle connection to `origin`, after closing the expired ones.
    func takeIdle(for origin: Origin) -> ClientConnection? {
        let pool = self.pool(for: origin)
        let now = ContinuousClock.now
        while let oldest = pool.idle.first, now - oldest.idleSince > idleTimeout {
            pool.idle.removeFirst()
            oldest.idleIn = nil
            oldest.close()
            idleCount -= 1
        }
        guard let connection = pool.idle.popLast() else { return nil }
        connection.idleIn = nil
        idleCount -= 1
        return connection
    }

    /// Keeps `connection` for reuse; past the cap, the connection idle longest (any origin) closes.
    func putIdle(_ connection: ClientConnection, for origin: Origin) {
        let pool = self.pool(for: origin)
        connection.idleSince = .now
        connection.idleIn = pool
        connection.idleStays += 1
        pool.idle.append(connection)
        idleOrder.append((connection, connection.idleStays))
        idleCount += 1
        while idleCount > maxIdle, idleOrderStart < idleOrder.count {
            let oldest = idleOrder[idleOrderStart]
            idleOrderStart += 1
            if isCurrent(oldest) { discardIdle(oldest.connection) }
        }
        // Drop the entries of stays that have ended, once they are the bulk of the list.
        if idleOrder.count > 64 && idleOrder.count > 2 * idleCount {
            idleOrder = idleOrder[idleOrderStart...].filter(isCurrent)
            idleOrderStart = 0
        }
    }

    /// Closes every idle connection.
    func closeIdle() {
        for pool in pools.values {
            for connection in pool.idle {
                connection.idleIn = nil
                connection.close()
            }
            pool.idle = []
        }
        idleCount = 0
        idleOrder = []
        idleOrderStart = 0
    }

    private func pool(for origin: Origin) -> OriginPool {
        if let pool = pools[origin] { return pool }
        let pool = OriginPool(limit: maxPerOrigin)
        pools[origin] = pool
        return pool
    }

    private func isCurrent(_ entry: (connection: ClientConnection, stay: Int)) -> Bool {
        entry.connection.idleIn != nil && entry.connection.idleStays == entry.stay
    }

    private func discardIdle(_ connection: ClientConnection) {
        guard let pool = connection.idleIn else { return }
        pool.idle.removeAll { $0 === connection }
        connection.idleIn = nil
        connection.close()
        idleCount -= 1
    }
}
