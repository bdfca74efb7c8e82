import DequeModule

/// A pile of green threads whose results come back in the order they were spawned (Eventlet's
/// `GreenPile`): spawn work into it, then iterate it. A job's error is thrown at its place in the
/// iteration.
///
/// ```swift
/// let pile = GreenPile<String>(size: 10)
/// for host in hosts { try await pile.spawn { try await lookup(host) } }
/// for try await address in pile { print(address) }
/// ```
/// Iteration ends once every spawned job's result has been taken. Hub-confined.
public final class GreenPile<Result: Sendable>: @unchecked Sendable {
    /// The pool the pile's green threads run in.
    public let pool: GreenPool
    private var pending = Deque<GreenThread<Result>>()

    /// Creates a pile that runs its green threads in `pool` (shared with other users of the pool).
    public init(pool: GreenPool) { self.pool = pool }

    /// Creates a pile with a pool of its own of `size` green threads.
    public convenience init(size: Int = 1000) { self.init(pool: GreenPool(size: size)) }

    /// Starts `body` in the pile's pool, waiting for a free slot first.
    public func spawn(name: String? = nil, _ body: @escaping @Sendable () async throws -> Result) async throws {
        pending.append(try await pool.spawn(name: name, body))
    }

    /// Jobs spawned whose results have not been taken yet.
    public var count: Int { pending.count }

    /// Waits for the oldest job not yet taken and returns its result (throws its error); nil once
    /// every result has been taken.
    public func next() async throws -> Result? {
        guard let first = pending.popFirst() else { return nil }
        return try await first.wait()
    }
}

extension GreenPile: AsyncSequence {
    /// Iterates the pile's results in spawn order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let pile: GreenPile
        /// The next result in spawn order, or nil when none is left.
        public mutating func next() async throws -> Result? { try await pile.next() }
    }

    /// An iterator over the pile's results.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pile: self) }
}
