import DequeModule
import Foundation

/// Real threads for blocking work (Eventlet's `tpool`): a green thread hands a blocking closure to
/// the pool and waits for it without blocking the hub, so every other green thread keeps running.
///
/// ```swift
/// let digest = try await tpool.execute { try expensiveHash(of: bigFile) }
/// ```
/// The shared pool's size comes from `EVY_THREADPOOL_SIZE` (default 20); threads start on demand.
/// A call made from one of the pool's own threads runs inline (the pool is reentrant). If the
/// waiting green thread is killed or times out, it stops waiting at once; the closure still runs
/// to its end on its thread (a thread cannot be interrupted) and its result is dropped.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool used by ``tpool``.
    public static let shared = ThreadPool(size: size(fromEnvironment: ProcessInfo.processInfo.environment))

    /// `EVY_THREADPOOL_SIZE` if it is a number (at least 1), else 20.
    static func size(fromEnvironment environment: [String: String]) -> Int {
        environment["EVY_THREADPOOL_SIZE"].flatMap { Int($0) }.map { Swift.max($0, 1) } ?? 20
    }

    /// The most threads the pool starts.
    public let size: Int
    private let condition = NSCondition()
    private var jobs = Deque<() -> Void>()
    private var threads = 0
    private var idle = 0
    private var isShutDown = false

    private static let poolThreadKey = "evy.tpool.thread"

    /// Creates a pool of at most `size` threads (at least 1).
    public init(size: Int) {
        precondition(size >= 1, "a thread pool needs at least one thread")
        self.size = size
    }

    /// Whether the calling thread belongs to a thread pool.
    public static var isPoolThread: Bool {
        Thread.current.threadDictionary[poolThreadKey] != nil
    }

    /// Runs `body` on one of the pool's threads and returns its value (or throws its error) to the
    /// calling green thread, which waits without blocking its hub.
    public func execute<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        if Self.isPoolThread { return try body() }
        let hub = Hub.current
        hub.assertOnHubThread("tpool.execute")
        return try await hub.park { (waiter: Waiter<T>) in
            hub.retainLoop()
            submit {
                let outcome = Result { try body() }
                hub.callFromThread {
                    hub.releaseLoop()
                    switch outcome {
                    case .success(let value): waiter.resume(returning: value)
                    case .failure(let error): waiter.resume(throwing: error)
                    }
                }
            }
        }
    }

    /// Queues `job` for a pool thread, starting a thread if all are busy and the pool is not full.
    func submit(_ job: @escaping () -> Void) {
        condition.lock()
        jobs.append(job)
        // Idle threads that were signalled but have not taken their job yet still count as idle:
        // compare with the queued jobs, or two quick submissions would share one thread.
        let startThread = jobs.count > idle && threads < size
        if startThread { threads += 1 }
        condition.signal()
        condition.unlock()
        if startThread {
            let thread = Thread { [self] in work() }
            thread.name = "evy-tpool"
            thread.threadDictionary[Self.poolThreadKey] = true
            thread.start()
        }
    }

    private func work() {
        Thread.current.threadDictionary[Self.poolThreadKey] = true
        while true {
            condition.lock()
            while jobs.isEmpty && !isShutDown {
                idle += 1
                condition.wait()
                idle -= 1
            }
            if jobs.isEmpty {  // shut down and drained
                threads -= 1
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Lets the pool's threads end once the queued jobs are done. Jobs submitted afterwards still
    /// run: a thread is started for them as needed.
    func shutdown() {
        condition.lock()
        isShutDown = true
        condition.broadcast()
        condition.unlock()
    }

    /// Threads running now (started and not yet ended).
    var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads
    }
}

/// The process-wide ``ThreadPool`` (Eventlet's `tpool` module).
public let tpool = ThreadPool.shared
