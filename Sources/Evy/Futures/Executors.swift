import DequeModule

/// Misuse of an executor.
public enum ExecutorError: Error, CustomStringConvertible, Equatable {
    /// Work was submitted after ``TaskPoolExecutor/shutdown(wait:)``.
    case shutDown

    public var description: String { "cannot submit work to an executor that was shut down" }
}

/// Runs submitted work on at most `maxWorkers` green threads of the current hub and gives back
/// ``Future``s (Evergreen's `TaskPoolExecutor`). ``submit(_:)`` never waits: work beyond the
/// workers queues up.
///
/// ```swift
/// let executor = TaskPoolExecutor(maxWorkers: 20)
/// let sizes = try await executor.map(urls) { try await fetch($0).count }.collect()
/// try await executor.shutdown()
/// ```
/// Hub-confined.
public final class TaskPoolExecutor: @unchecked Sendable {
    /// The most green threads the executor runs at once.
    public let maxWorkers: Int
    private let hub: Hub
    private var queue = Deque<() async -> Void>()
    private var workers = 0
    private var isShutDown = false
    private let idle = Flag()

    /// Creates an executor of at most `maxWorkers` green threads.
    public init(maxWorkers: Int = 1000) {
        precondition(maxWorkers >= 1, "an executor needs at least one worker")
        self.maxWorkers = maxWorkers
        hub = Hub.current
        idle.set()
    }

    /// Queues `body` and returns its future. Throws ``ExecutorError/shutDown`` after
    /// ``shutdown(wait:)``.
    public func submit<Value: Sendable>(_ body: @escaping @Sendable () async throws -> Value) throws -> Future<Value> {
        hub.assertOnHubThread("TaskPoolExecutor.submit")
        guard !isShutDown else { throw ExecutorError.shutDown }
        let future = Future<Value>(hub: hub)
        queue.append {
            guard future.claim() else { return }
            do { future.finish(.success(try await body())) } catch { future.finish(.failure(error)) }
        }
        idle.clear()
        if workers < maxWorkers {
            workers += 1
            spawnN(name: "executor worker") { [self] in await drain() }
        }
        return future
    }

    private func drain() async {
        while let job = queue.popFirst() { await job() }
        workers -= 1
        if workers == 0 { idle.set() }
    }

    /// Submits `transform` for every input and yields the results in input order. With a
    /// `timeout`, iteration throws ``TimeoutError`` once that much time has passed since this call.
    public func map<Inputs: Sequence, Output: Sendable>(
        _ inputs: Inputs, timeout: Duration? = nil,
        _ transform: @escaping @Sendable (Inputs.Element) async throws -> Output
    ) throws -> FutureResults<Output> where Inputs.Element: Sendable {
        let futures = try inputs.map { input in try submit { try await transform(input) } }
        return FutureResults(futures: futures, deadline: hub.deadline(after: timeout), hub: hub)
    }

    /// Refuses new work; with `wait`, waits until all submitted work has finished.
    public func shutdown(wait: Bool = true) async throws {
        isShutDown = true
        if wait { try await idle.wait() }
    }
}

/// Runs submitted blocking work on at most `maxWorkers` real threads and gives back ``Future``s
/// that green threads of the current hub can wait on (`concurrent.futures.ThreadPoolExecutor`).
/// Hub-confined, apart from the work itself.
public final class ThreadPoolExecutor: @unchecked Sendable {
    private let threads: ThreadPool
    private let hub: Hub
    private var isShutDown = false
    private var outstanding = 0
    private let idle = Flag()

    /// Creates an executor with a pool of at most `maxWorkers` threads of its own.
    public init(maxWorkers: Int = 20) {
        threads = ThreadPool(size: maxWorkers)
        hub = Hub.current
        idle.set()
    }

    /// Queues blocking `body` for a thread and returns its future. Throws
    /// ``ExecutorError/shutDown`` after ``shutdown(wait:)``.
    public func submit<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) throws -> Future<Value> {
        hub.assertOnHubThread("ThreadPoolExecutor.submit")
        guard !isShutDown else { throw ExecutorError.shutDown }
        let future = Future<Value>(hub: hub)
        let hub = self.hub
        outstanding += 1
        idle.clear()
        hub.retainLoop()
        threads.submit { [self] in
            let outcome: Result<Value, any Error>? = future.claim() ? Result { try body() } : nil
            hub.callFromThread { [self] in
                hub.releaseLoop()
                if let outcome { future.finish(outcome) }
                outstanding -= 1
                if outstanding == 0 { idle.set() }
            }
        }
        return future
    }

    /// Submits `transform` for every input and yields the results in input order.
    public func map<Inputs: Sequence, Output: Sendable>(
        _ inputs: Inputs, timeout: Duration? = nil, _ transform: @escaping @Sendable (Inputs.Element) throws -> Output
    ) throws -> FutureResults<Output> where Inputs.Element: Sendable {
        let futures = try inputs.map { input in try submit { try transform(input) } }
        return FutureResults(futures: futures, deadline: hub.deadline(after: timeout), hub: hub)
    }

    /// Refuses new work and lets the executor's threads end once its work is done; with `wait`,
    /// waits until all submitted work has finished.
    public func shutdown(wait: Bool = true) async throws {
        isShutDown = true
        threads.shutdown()
        if wait { try await idle.wait() }
    }
}

/// The results of an executor's `map`, in input order.
public struct FutureResults<Output: Sendable>: AsyncSequence, Sendable {
    /// One result per input.
    public typealias Element = Output
    let futures: [Future<Output>]
    let deadline: ContinuousClock.Instant?
    let hub: Hub

    /// Iterates the results; a failed input throws its error at its place.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let results: FutureResults
        var index = 0

        /// The next result in input order, or nil after the last.
        public mutating func next() async throws -> Output? {
            guard index < results.futures.count else { return nil }
            defer { index += 1 }
            let remaining = results.deadline.map { results.hub.now.duration(to: $0) }
            return try await results.futures[index].result(timeout: remaining.map { Swift.max($0, .zero) })
        }
    }

    /// An iterator over the results.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(results: self) }

    /// Waits for every result and returns them in order.
    public func collect() async throws -> [Output] {
        var all: [Output] = []
        for try await result in self { all.append(result) }
        return all
    }
}
