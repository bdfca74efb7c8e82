import CLibUV
import Foundation
import Glibc
import HeapModule
import Synchronization

/// The event loop that runs green threads: one libuv loop, bound to one thread.
///
/// A hub is a `SerialExecutor` and, through ``taskExecutor``, a `TaskExecutor`. Every green thread is
/// a Swift `Task` that prefers the hub's task executor, so it runs on the hub's thread and gives the
/// thread up only where it waits (I/O, timers, queues, locks). Code running on one hub therefore needs
/// no locks for state shared between its green threads.
///
/// The process's main hub, ``main``, belongs to the main thread. Other threads can have a hub of
/// their own (``init()``), which that thread must run.
///
/// Thread safety: every method must be called on the hub's thread, except ``callFromThread(_:)``,
/// ``stop()`` and the executor entry points, which any thread may call. The type is
/// `@unchecked Sendable` on that understanding and checks the thread where it matters.
///
/// ```swift
/// let total = try Hub.run {
///     let pool = GreenPool(size: 100)
///     var sum = 0
///     for try await square in pool.imap(1...1_000, { $0 * $0 }) { sum += square }
///     return sum
/// }
/// ```
public final class Hub: @unchecked Sendable {
    /// One unit of work on the ready queue.
    enum Work {
        case taskJob(UnownedJob)
        case serialJob(UnownedJob)
        case callback(Handle)
    }

    let loop: UnsafeMutablePointer<uv_loop_t>
    /// `pthread_t` of the thread that runs this hub, or 0 until one is bound.
    @usableFromInline let owner = Atomic<UInt>(0)

    // Loop-thread state.
    private var ready: [Work] = []
    private var draining: [Work] = []
    private var running = false
    /// Whether the hub's thread is inside `uv_run` (callbacks scheduling work must stop it).
    private var insideLibuv = false
    private var stopRequested = false
    private var keepAliveCount = 0
    var timers = Heap<TimerEntry>()
    var liveTimers = 0
    private var timerSequence: UInt64 = 0
    var armedDeadline: ContinuousClock.Instant?
    let timerHandle: UnsafeMutablePointer<uv_timer_t>
    var watchers: [Int32: FDWatcher] = [:]
    /// Descriptors being closed by ``notifyClose(_:)`` right now.
    var closingDescriptors: Set<Int32> = []
    var signalWatchers: [Int32: SignalWatcher] = [:]
    @usableFromInline var blockingDetector: BlockingDetector?
    /// The tasks Evy started on this hub that are alive, by task address.
    @usableFromInline var greenTasks: [Int: GreenTaskState] = [:]
    /// What the next ``park(deadline:enroll:)`` waits on, for ``greenThreadSnapshots()``: each
    /// primitive sets it right before parking (a store, kept out of `park`'s own signature so that
    /// its inlined body stays as small as a switch needs).
    /// (Behind a pointer, so that the store costs no dynamic exclusivity check.)
    @usableFromInline let nextWaitLabel: UnsafeMutablePointer<StaticString> = {
        let slot = UnsafeMutablePointer<StaticString>.allocate(capacity: 1)
        slot.initialize(to: "a wait")
        return slot
    }()

    deinit { nextWaitLabel.deallocate() }
    /// The pools made on this hub, for ``poolSnapshots()``.
    var pools: [InspectablePool] = []
    var poolsSweepAt = 64
    /// Counters for ``statistics()``; the longest turn in nanoseconds of the coarse clock.
    var jobsRun: UInt64 = 0, turns: UInt64 = 0, longestTurnNanoseconds: Int64 = 0

    /// How many jobs may run before I/O and timers are polled again.
    static let jobsBetweenPolls = 256

    // Cross-thread state.
    private let inbox = Mutex<[Work]>([])
    private let wakeup: UnsafeMutablePointer<uv_async_t>
    private let stopFlag = Atomic<Bool>(false)

    /// The task executor green threads of this hub prefer.
    public private(set) var taskExecutor: HubTaskExecutor!
    private var unownedSerial: UnownedSerialExecutor!
    private var unownedTask: UnownedTaskExecutor!

    /// Creates a hub for the calling thread, which must not have one yet.
    ///
    /// Only threads other than the main thread need this: the main thread's hub is ``main``.
    public convenience init() {
        precondition(HubRegistry.hubOfCurrentThread == nil, "this thread already has a hub")
        self.init(unbound: ())
        bind(to: pthread_self())
    }

    private init(unbound: Void) {
        loop = .allocate(capacity: 1)
        let status = uv_loop_init(loop)
        precondition(status == 0, "uv_loop_init failed: \(UVError(status))")
        wakeup = .allocate(capacity: 1)
        timerHandle = .allocate(capacity: 1)
        uv_async_init(loop, wakeup) { handle in
            Hub.from(handle!.pointee.data).receiveInbox()
        }
        uv_unref(UnsafeMutableRawPointer(wakeup).assumingMemoryBound(to: uv_handle_t.self))
        uv_timer_init(loop, timerHandle)
        let me = Unmanaged.passUnretained(self).toOpaque()
        wakeup.pointee.data = me
        timerHandle.pointee.data = me
        taskExecutor = HubTaskExecutor(hub: self)
        unownedSerial = UnownedSerialExecutor(ordinary: self)
        unownedTask = taskExecutor.asUnownedTaskExecutor()
        Hub.ignoreSIGPIPE
        if let ms = BlockingDetector.thresholdFromEnvironment {
            blockingDetector = BlockingDetector(hub: self, threshold: ms)
        }
    }

    /// Like Python, a process using Evy ignores SIGPIPE: writing to a pipe whose reader has gone
    /// fails with `EPIPE` (a ``SocketError``) in the green thread concerned instead of killing the
    /// process. Set once, when the first hub is made.
    private static let ignoreSIGPIPE: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()

    /// The process's main hub, run by the main thread.
    public static let main: Hub = {
        let hub = Hub(unbound: ())
        if isMainThread { hub.bind(to: pthread_self()) }
        return hub
    }()

    /// The hub of the calling thread, or the main hub if this thread has none.
    public static var current: Hub {
        HubRegistry.hubOfCurrentThread ?? main
    }

    /// The hub bound to the calling thread, if any.
    @usableFromInline static var ofCurrentThread: Hub? {
        if let hub = HubRegistry.hubOfCurrentThread { return hub }
        if isMainThread { return main }
        return nil
    }

    private func bind(to thread: pthread_t) {
        let previous = owner.load(ordering: .acquiring)
        if previous == 0 {
            owner.store(thread, ordering: .releasing)
            HubRegistry.hubOfCurrentThread = self
        } else {
            precondition(pthread_equal(previous, thread) != 0, "a hub runs on one thread only")
        }
    }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> Hub {
        Unmanaged<Hub>.fromOpaque(pointer!).takeUnretainedValue()
    }

    /// Whether the calling thread is the one that runs this hub.
    @inlinable
    public var isOnHubThread: Bool {
        let thread = owner.load(ordering: .relaxed)
        return thread != 0 && pthread_equal(thread, pthread_self()) != 0
    }

    @inlinable
    func assertOnHubThread(_ what: @autoclosure () -> String = "this call") {
        if !isOnHubThread { hubThreadViolation(what()) }
    }

    @usableFromInline
    func hubThreadViolation(_ what: String) -> Never {
        preconditionFailure(
            "\(what) must run on its hub's thread, inside a green thread "
                + "(spawn it with Evy's spawn or Hub.run; a plain Task started outside the hub runs elsewhere)")
    }

    // MARK: Scheduling work

    @inline(__always)
    func schedule(_ work: Work) {
        if isOnHubThread {
            ready.append(work)
            // Work made ready by a libuv callback (a timer, a reader) must not wait for libuv's
            // own poll timeout: end this uv_run turn so the ready queue runs next.
            if insideLibuv { uv_stop(loop) }
        } else {
            let wasEmpty = inbox.withLock { inbox in
                inbox.append(work)
                return inbox.count == 1
            }
            if wasEmpty { uv_async_send(wakeup) }
        }
    }

    private func receiveInbox() {
        let incoming = inbox.withLock { inbox in
            let taken = inbox
            inbox.removeAll(keepingCapacity: true)
            return taken
        }
        ready.append(contentsOf: incoming)
        if stopFlag.load(ordering: .relaxed) { stopRequested = true }
    }

    @inline(__always)
    private func runReady() {
        swap(&ready, &draining)
        jobsRun &+= UInt64(draining.count)
        let detector = blockingDetector
        for work in draining {
            detector?.willRun(work)
            switch work {
            case .taskJob(let job):
                job.runSynchronously(on: unownedTask)
            case .serialJob(let job):
                job.runSynchronously(on: unownedSerial)
            case .callback(let handle):
                handle.fire()
            }
            detector?.didRun()
        }
        draining.removeAll(keepingCapacity: true)
    }

    // MARK: Running

    /// Runs the loop until no work is left: no ready green thread, no timer, no watched file
    /// descriptor and no pending call to the thread pool (Evergreen's `loop.run()`). Returns early
    /// if ``stop()`` is called. A hub can be run again after it returns.
    public func runUntilIdle() {
        runLoop(keepAlive: false, until: { false })
    }

    /// Runs the loop until ``stop()`` is called, even when there is nothing to do.
    public func runForever() {
        runLoop(keepAlive: true, until: { false })
    }

    /// Asks the loop to stop after the work it is running now. Safe from any thread.
    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        if isOnHubThread { stopRequested = true } else { uv_async_send(wakeup) }
    }

    /// Whether the hub's loop is running now.
    public var isRunning: Bool { running }

    func runLoop(keepAlive: Bool, until done: () -> Bool) {
        bind(to: pthread_self())
        assertOnHubThread("Hub.run")
        precondition(!running, "the hub is already running: a green thread cannot run its own hub")
        running = true
        stopRequested = false
        stopFlag.store(false, ordering: .relaxed)
        if keepAlive { retainLoop() }
        defer {
            if keepAlive { releaseLoop() }
            running = false
        }
        blockingDetector?.start()
        defer { blockingDetector?.pause() }
        while !stopRequested && !done() {
            if !ready.isEmpty {
                // Run ready green threads in batches until the queue drains or the budget is
                // spent, then poll I/O and timers without blocking: polling after every batch
                // would cost a system call per switch when two green threads ping-pong.
                var budget = Self.jobsBetweenPolls
                let turnStarted = Self.coarseNanoseconds()
                repeat {
                    budget -= ready.count
                    runReady()
                } while !ready.isEmpty && budget > 0 && !stopRequested && !done()
                turns &+= 1
                longestTurnNanoseconds = max(longestTurnNanoseconds, Self.coarseNanoseconds() - turnStarted)
                if stopRequested || done() { break }
                pollLibuv(UV_RUN_NOWAIT)
            } else {
                let alive = pollLibuv(UV_RUN_ONCE)
                if alive == 0 && ready.isEmpty {
                    // With no live handle libuv returns without polling, so work other threads
                    // queued may still sit in the inbox.
                    receiveInbox()
                    if ready.isEmpty { break }
                }
            }
        }
    }

    /// The monotonic clock at its coarse resolution (a few milliseconds, read without a system
    /// call): enough to catch turns that stall the hub, cheap enough to read twice per turn.
    @inline(__always)
    static func coarseNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    @discardableResult
    private func pollLibuv(_ mode: uv_run_mode) -> Int32 {
        insideLibuv = true
        defer { insideLibuv = false }
        return uv_run(loop, mode)
    }

    /// Keeps ``run()`` from returning while something outside the loop (a thread-pool job, a
    /// cross-thread completion) will still schedule work. Loop thread only; balance with
    /// ``releaseLoop()``.
    func retainLoop() {
        keepAliveCount += 1
        if keepAliveCount == 1 { uv_ref(UnsafeMutableRawPointer(wakeup).assumingMemoryBound(to: uv_handle_t.self)) }
    }

    func releaseLoop() {
        keepAliveCount -= 1
        if keepAliveCount == 0 { uv_unref(UnsafeMutableRawPointer(wakeup).assumingMemoryBound(to: uv_handle_t.self)) }
    }

    /// Runs `body` as a green thread on the calling thread's hub and runs the hub until `body`
    /// finishes; returns its value or throws its error.
    ///
    /// This is the usual entry point of a program:
    /// ```swift
    /// try Hub.run {
    ///     let worker = spawn { try await sleep(for: .milliseconds(10)); return 42 }
    ///     print(try await worker.wait())
    /// }
    /// ```
    /// Green threads still running when `body` returns stay suspended until the hub runs again.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let hub = ofCurrentThread ?? Hub()
        hub.bind(to: pthread_self())
        let box = ResultBox<T>()
        let thread = GreenThread<T>.start(on: hub, name: "main", after: nil, body: body)
        thread.link { box.result = $0 }
        hub.runLoop(keepAlive: true, until: { box.result != nil })
        guard let result = box.result else {
            throw HubError.stoppedBeforeCompletion
        }
        return try result.get()
    }

    // MARK: Time

    /// The hub's clock: monotonic, shared by timers, sleeps and timeouts.
    public var now: ContinuousClock.Instant { ContinuousClock.now }

    func nextTimerSequence() -> UInt64 {
        timerSequence &+= 1
        return timerSequence
    }
}

/// Errors the hub itself raises.
public enum HubError: Error, CustomStringConvertible {
    /// ``Hub/stop()`` was called before the body given to ``Hub/run(_:)`` finished.
    case stoppedBeforeCompletion

    public var description: String {
        switch self {
        case .stoppedBeforeCompletion: "the hub was stopped before the green thread finished"
        }
    }
}

final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
}

/// The `TaskExecutor` face of a ``Hub``: green threads prefer it, so their nonisolated code runs on
/// the hub's thread.
public final class HubTaskExecutor: TaskExecutor, @unchecked Sendable {
    /// The hub this executor feeds.
    public unowned let hub: Hub

    init(hub: Hub) { self.hub = hub }

    /// Queues a job on the hub. Any thread may call this.
    public func enqueue(_ job: consuming ExecutorJob) {
        hub.schedule(.taskJob(UnownedJob(job)))
    }
}

extension Hub: SerialExecutor {
    /// Queues a job isolated to the hub. Any thread may call this.
    public func enqueue(_ job: consuming ExecutorJob) {
        schedule(.serialJob(UnownedJob(job)))
    }

    /// Traps unless called on the hub's thread.
    public func checkIsolated() {
        assertOnHubThread("code isolated to the hub")
    }

    /// Whether the calling thread runs this hub.
    public func isIsolatingCurrentContext() -> Bool? {
        isOnHubThread
    }
}

enum HubRegistry {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var hubOfCurrentThread: Hub? {
        get {
            guard let raw = pthread_getspecific(key) else { return nil }
            return Unmanaged<Hub>.fromOpaque(raw).takeUnretainedValue()
        }
        set {
            // Hubs live as long as their thread's registration: retained here, never released,
            // because a loop may still reference them from libuv callbacks.
            let raw = newValue.map { Unmanaged.passRetained($0).toOpaque() }
            pthread_setspecific(key, raw)
        }
    }
}

extension Hub {
    /// Whether the calling thread is the process's main thread.
    static var isMainThread: Bool { Thread.isMainThread }
}
