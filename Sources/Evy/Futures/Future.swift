import Synchronization

/// The eventual result of work submitted to an executor (`concurrent.futures.Future`, Evergreen's
/// futures): wait for it with a timeout, cancel it before it starts, or be called back when done.
///
/// ```swift
/// let executor = TaskPoolExecutor(maxWorkers: 10)
/// let future = try executor.submit { try await fetch(url) }
/// let page = try await future.result(timeout: .seconds(5))
/// ```
/// Waiting and callbacks belong to the hub that created the future; the executor may run the work
/// on another thread (``ThreadPoolExecutor``).
public final class Future<Value: Sendable>: @unchecked Sendable {
    private enum Phase: UInt8 {
        case pending, running, cancelled, finished
    }

    unowned let hub: Hub
    private let phase = Atomic<UInt8>(Phase.pending.rawValue)
    private var outcome: Result<Value, any Error>?
    private var waiters = WaiterQueue<Waiter<Void>>()
    private var callbacks: [(Future) -> Void] = []

    init(hub: Hub) { self.hub = hub }

    /// Waits for the result and returns it, or throws the work's error. Throws
    /// `CancellationError` if the future was cancelled, ``TimeoutError`` if `timeout` passes first.
    public func result(timeout: Duration? = nil) async throws -> Value {
        try await waitUntilDone(timeout: timeout)
        return try outcome!.get()
    }

    /// Waits for the future and returns the work's error, or nil if it succeeded. Throws
    /// `CancellationError` if the future was cancelled, ``TimeoutError`` if `timeout` passes first.
    public func error(timeout: Duration? = nil) async throws -> (any Error)? {
        try await waitUntilDone(timeout: timeout)
        if isCancelled { throw CancellationError() }
        if case .failure(let error) = outcome { return error }
        return nil
    }

    private func waitUntilDone(timeout: Duration?) async throws {
        guard outcome == nil else { return }
        do {
            hub.nextWaitLabel.pointee = "future"
            try await hub.park(deadline: hub.deadline(after: timeout)) { waiter in
                if outcome != nil { waiter.resume(returning: ()) } else { waiters.append(waiter) }
            }
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }

    /// Cancels the work if it has not started; returns whether the future is now cancelled
    /// (false once it is running or done).
    @discardableResult
    public func cancel() -> Bool {
        let (exchanged, original) = phase.compareExchange(
            expected: Phase.pending.rawValue, desired: Phase.cancelled.rawValue, ordering: .acquiringAndReleasing)
        if exchanged {
            complete(.failure(CancellationError()))
            return true
        }
        return original == Phase.cancelled.rawValue
    }

    /// Whether the future was cancelled.
    public var isCancelled: Bool { phase.load(ordering: .acquiring) == Phase.cancelled.rawValue }
    /// Whether the work is running now.
    public var isRunning: Bool { phase.load(ordering: .acquiring) == Phase.running.rawValue }
    /// Whether the future is finished or cancelled.
    public var isDone: Bool { outcome != nil }
    /// The outcome once done, without waiting.
    public var currentOutcome: Result<Value, any Error>? { outcome }

    /// Calls `callback` on the hub once the future is done (on the hub's next turn if it is done
    /// already).
    public func addDoneCallback(_ callback: @escaping (Future) -> Void) {
        if outcome != nil {
            hub.callSoon { callback(self) }
        } else {
            callbacks.append(callback)
        }
    }

    /// Marks the work as started; false if the future was cancelled first. Any thread.
    func claim() -> Bool {
        phase.compareExchange(
            expected: Phase.pending.rawValue, desired: Phase.running.rawValue, ordering: .acquiringAndReleasing
        ).exchanged
    }

    /// Records the outcome of claimed work. Hub thread only.
    func finish(_ result: Result<Value, any Error>) {
        phase.store(Phase.finished.rawValue, ordering: .releasing)
        complete(result)
    }

    private func complete(_ result: Result<Value, any Error>) {
        outcome = result
        for waiter in waiters.takeAll() { waiter.resume(returning: ()) }
        let callbacks = self.callbacks
        self.callbacks = []
        for callback in callbacks { callback(self) }
    }
}

/// When ``wait(for:timeout:returnWhen:)`` returns.
public enum FutureWaitCondition: Sendable {
    /// As soon as any future is done.
    case firstCompleted
    /// As soon as any future fails, or when all are done.
    case firstException
    /// When all are done.
    case allCompleted
}

extension Future {
    /// Waits for `futures` until `condition` holds or `timeout` passes, and returns them split into
    /// the done and the not done, each in the order given (`concurrent.futures.wait`).
    /// ```swift
    /// let (done, pending) = try await Future.wait(for: futures, timeout: .seconds(1), returnWhen: .firstCompleted)
    /// ```
    public static func wait(
        for futures: [Future<Value>], timeout: Duration? = nil,
        returnWhen condition: FutureWaitCondition = .allCompleted
    ) async throws -> (done: [Future<Value>], notDone: [Future<Value>]) {
        func satisfied() -> Bool {
            switch condition {
            case .allCompleted: return futures.allSatisfy(\.isDone)
            case .firstCompleted: return futures.isEmpty || futures.contains(where: \.isDone)
            case .firstException:
                return futures.allSatisfy(\.isDone)
                    || futures.contains { future in
                        if case .failure = future.currentOutcome, !future.isCancelled { return true }
                        return false
                    }
            }
        }
        let hub = Hub.current
        if !satisfied() {
            let changed = Flag()
            for future in futures where !future.isDone { future.addDoneCallback { _ in changed.set() } }
            let deadline = hub.deadline(after: timeout)
            while !satisfied() {
                changed.clear()
                let remaining = deadline.map { hub.now.duration(to: $0) }
                if let remaining, remaining <= .zero { break }
                if try await !changed.wait(timeout: remaining) { break }
            }
        }
        return (futures.filter(\.isDone), futures.filter { !$0.isDone })
    }

    /// The futures' results as they complete, first done first (`concurrent.futures.as_completed`).
    /// Each element is a done future. Throws ``TimeoutError`` if `timeout` passes before all are done.
    public static func completed(
        _ futures: [Future<Value>], timeout: Duration? = nil
    ) -> AsyncThrowingStream<Future<Value>, any Error> {
        let hub = Hub.current
        hub.assertOnHubThread("completed(_:)")
        let (stream, continuation) = AsyncThrowingStream<Future<Value>, any Error>.makeStream()
        var remaining = futures.count
        if remaining == 0 { continuation.finish() }
        var timer: Handle?
        if let timeout, remaining > 0 {
            let armed = hub.callLater(timeout) { continuation.finish(throwing: TimeoutError(duration: timeout)) }
            timer = armed
            // A consumer that stops early must not leave the timer keeping the hub alive.
            let handle = UncheckedHandle(armed)
            continuation.onTermination = { _ in hub.callFromThread { handle.handle.cancel() } }
        }
        for future in futures {
            future.addDoneCallback { done in
                continuation.yield(done)
                remaining -= 1
                if remaining == 0 {
                    timer?.cancel()
                    continuation.finish()
                }
            }
        }
        return stream
    }
}

/// A timer handle carried to the hub from whichever thread ends a stream.
struct UncheckedHandle: @unchecked Sendable {
    let handle: Handle
    init(_ handle: Handle) { self.handle = handle }
}
