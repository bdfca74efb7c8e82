/// The results of ``GreenPool/imap(_:_:)``: an `AsyncSequence` yielding `transform(input)` for each
/// input, in input order, computed concurrently in the pool.
///
/// Memory stays bounded however long the input: at most the pool's size of results are held, so a
/// slow consumer slows the producer down instead of filling memory. Spawning starts when iteration
/// starts and stops if the iterator is dropped.
public struct PoolMap<Input: Sendable, Output: Sendable>: AsyncSequence, Sendable {
    /// The element type: one result per input.
    public typealias Element = Output

    let pool: GreenPool
    let inputs: @Sendable () -> AnyIterator<Input>
    let transform: @Sendable (Input) async throws -> Output

    /// Iterates the results in input order; a failed job throws its error at its place.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let state: PoolMapState<Output>

        /// The next result in input order, or nil after the last one.
        public mutating func next() async throws -> Output? {
            guard let thread = try await state.results.get() else {
                // Leave the end marker for any later call.
                try state.results.putNowait(nil)
                return nil
            }
            return try await thread.wait()
        }
    }

    /// Starts spawning into the pool and returns the iterator over the results.
    public func makeAsyncIterator() -> AsyncIterator {
        let hub = Hub.current
        hub.assertOnHubThread("iterating GreenPool.imap")
        // The pool bounds how many jobs run; this queue bounds finished results not yet consumed.
        let results = Queue<GreenThread<Output>?>(maxSize: Swift.max(pool.size, 1))
        let pool = self.pool
        let inputs = self.inputs
        let transform = self.transform
        let context = GreenContext(name: "imap feeder", pool: nil)
        let feeder = Task(name: "imap feeder", executorPreference: hub.greenThreadPreference) {
            let outcome: Result<Void, any Error> = await hub.runGreenTask(context: context) {
                do {
                    let iterator = inputs()
                    while let input = iterator.next() {
                        let thread = try await pool.spawn { try await transform(input) }
                        try await results.put(thread)
                    }
                    try await results.put(nil)
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            try outcome.get()
        }
        return AsyncIterator(state: PoolMapState(results: results, feeder: feeder))
    }
}

/// The shared state of one ``PoolMap`` iteration; dropping it stops the feeder.
public final class PoolMapState<Output: Sendable>: @unchecked Sendable {
    let results: Queue<GreenThread<Output>?>
    let feeder: Task<Void, any Error>

    init(results: Queue<GreenThread<Output>?>, feeder: Task<Void, any Error>) {
        self.results = results
        self.feeder = feeder
    }

    deinit { feeder.cancel() }
}

extension GreenPool {
    /// Applies `transform` to every input concurrently in this pool and yields the results in input
    /// order (Eventlet's `imap`), holding at most ``size`` results in memory.
    ///
    /// ```swift
    /// for try await square in pool.imap(1...10, { $0 * $0 }) { print(square) }
    /// ```
    public func imap<Inputs: Sequence & Sendable, Output: Sendable>(
        _ inputs: Inputs, _ transform: @escaping @Sendable (Inputs.Element) async throws -> Output
    ) -> PoolMap<Inputs.Element, Output> where Inputs.Element: Sendable {
        PoolMap(pool: self, inputs: { AnyIterator(inputs.makeIterator()) }, transform: transform)
    }

    /// ``imap(_:_:)`` over tuples of arguments, each spread into `transform`'s parameters
    /// (Eventlet's `starmap`).
    ///
    /// ```swift
    /// for try await sum in pool.starmap([(1, 2), (3, 4)], { a, b in a + b }) { print(sum) }
    /// ```
    public func starmap<Inputs: Sequence & Sendable, each Argument: Sendable, Output: Sendable>(
        _ inputs: Inputs, _ transform: @concurrent @escaping @Sendable (repeat each Argument) async throws -> Output
    ) -> PoolMap<(repeat each Argument), Output> where Inputs.Element == (repeat each Argument) {
        PoolMap(
            pool: self, inputs: { AnyIterator(inputs.makeIterator()) },
            transform: { arguments in
                try await transform(repeat each arguments)
            })
    }
}
