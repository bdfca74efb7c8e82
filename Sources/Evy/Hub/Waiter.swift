/// The part of a ``Waiter`` that does not depend on its value: what cancellation needs.
@usableFromInline
class WaiterBase: @unchecked Sendable {
    /// Set once the waiter has been resumed, failed, timed out or cancelled.
    @usableFromInline final var isFinished = false
    @usableFromInline final var timer: Handle?

    @usableFromInline init() {}

    /// Whether the waiter still waits.
    @inlinable final var isWaiting: Bool { !isFinished }

    /// Fails the wait with `CancellationError` if it still waits.
    @usableFromInline func cancel() {}
}

/// One green thread parked on a hub until something resumes it, its deadline passes or it is
/// cancelled. Every cooperative wait in Evy (sleep, locks, queues, events, channels, pools, futures,
/// file descriptors) is built on ``Hub/park(deadline:enroll:)``.
///
/// Hub-confined: created, resumed and failed on the hub's thread only.
@usableFromInline
final class Waiter<Value>: WaiterBase, @unchecked Sendable {
    @usableFromInline var continuation: UnsafeContinuation<Value, any Error>?

    @inlinable override init() {}

    /// Resumes the parked green thread with `value`; returns false if it no longer waits.
    @inlinable @discardableResult
    func resume(returning value: sending Value) -> Bool {
        guard let continuation = finish() else { return false }
        continuation.resume(returning: value)
        return true
    }

    /// Resumes the parked green thread by throwing `error`; returns false if it no longer waits.
    @inlinable @discardableResult
    func resume(throwing error: any Error) -> Bool {
        guard let continuation = finish() else { return false }
        continuation.resume(throwing: error)
        return true
    }

    @usableFromInline override func cancel() {
        resume(throwing: CancellationError())
    }

    @inlinable func finish() -> UnsafeContinuation<Value, any Error>? {
        guard !isFinished else { return nil }
        isFinished = true
        timer?.cancel()
        timer = nil
        let continuation = self.continuation
        self.continuation = nil
        return continuation
    }

    @inlinable func attach(_ continuation: UnsafeContinuation<Value, any Error>) {
        self.continuation = continuation
    }
}

/// Per-task state of a task Evy started (a green thread, a timeout's body): the green thread it
/// belongs to, and the wait it is parked in, so that cancelling the task can fail that wait.
///
/// The task installs one cancellation handler for its whole life (``Hub/runGreenTask(context:_:)``)
/// instead of one per wait: that saves two status-record updates per switch, and, because Swift
/// hops a closure passed to `withTaskCancellationHandler` to the generic executor, a hop too.
/// The hub finds it by task address (``Hub/greenTasks``) rather than through a task-local value:
/// a task-local binding adds frames to every parked green thread, and child tasks that the user
/// creates must not mistake their parent's state for their own.
@usableFromInline
final class GreenTaskState: @unchecked Sendable {
    @usableFromInline let context: GreenContext
    /// The wait the task is parked in now, if any.
    @usableFromInline var currentWait: WaiterBase?
    /// What that wait is for, and its deadline (for ``Hub/greenThreadSnapshots()``). Behind a
    /// pointer: a store through it costs no dynamic exclusivity check, which a class property's
    /// store does on every switch.
    let wait = UnsafeMutablePointer<(label: StaticString, deadline: ContinuousClock.Instant?)>.allocate(capacity: 1)
    /// When the green thread started (the coarse monotonic clock, in nanoseconds: cheap to read
    /// at every spawn, and a green thread's age needs no finer).
    let started = Hub.coarseNanoseconds()

    init(context: GreenContext) {
        self.context = context
        wait.initialize(to: ("a wait", nil))
    }

    deinit { wait.deallocate() }

    /// The state of the running task, if Evy started it on the current thread's hub.
    @inlinable static var current: GreenTaskState? {
        Hub.ofCurrentThread?.greenTasks[currentTaskID()]
    }
}

/// The address of the current task (0 outside any task), cheaper than its hash.
@inlinable
func currentTaskID() -> Int {
    withUnsafeCurrentTask { task in task.map { unsafeBitCast($0, to: Int.self) } ?? 0 }
}

/// Thrown inside Evy when a park's own deadline passes; each primitive turns it into its documented
/// outcome (`false`, `nil`, ``QueueEmpty``, ``QueueFull``...).
@usableFromInline
struct ParkTimedOut: Error {
    @inlinable init() {}
}

extension Hub {
    /// Runs `body` as the task of a green thread: binds its green-thread context and installs the
    /// task's cancellation handler, which fails whatever wait the task is parked in.
    func runGreenTask<T>(context: GreenContext, _ body: () async -> T) async -> T {
        let state = GreenTaskState(context: context)
        let id = currentTaskID()
        greenTasks[id] = state
        defer { greenTasks[id] = nil }
        if let detector = blockingDetector { detector.running(context.name) }
        return await withTaskCancellationHandler(operation: body) {
            self.callFromThread { state.currentWait?.cancel() }
        }
    }

    /// Parks the calling green thread until the waiter handed to `enroll` is resumed, `deadline`
    /// passes (throws ``ParkTimedOut``) or the task is cancelled (throws `CancellationError`).
    ///
    /// `enroll` runs on the hub, synchronously, right before the green thread suspends: it must
    /// check the condition waited for and either resume the waiter at once or store it where the
    /// resuming side will find it. Checking there, not before calling `park`, is what makes the
    /// wait immune to lost wake-ups. A waiter that timed out or was cancelled is finished: whoever
    /// finds it later skips it (`isWaiting` is false).
    @inlinable
    func park<Value>(
        deadline: ContinuousClock.Instant? = nil,
        enroll: (Waiter<Value>) -> Void
    ) async throws -> Value {
        // Everything synchronous happens out of line: this frame lives in the task's allocator
        // for as long as the green thread is parked, so it must hold little more than the waiter.
        let waiter = Waiter<Value>()
        guard let state = try beginPark(waiter, deadline) else {
            return try await parkInForeignTask(waiter, deadline: deadline, enroll: enroll)
        }
        defer { endPark(state) }
        return try await suspend(waiter, deadline: deadline, enroll: enroll)
    }

    /// Checks that a wait may start, and records it as the current wait of the green thread that
    /// makes it; nil if Evy did not start the calling task.
    @usableFromInline @inline(never)
    func beginPark(_ waiter: WaiterBase, _ deadline: ContinuousClock.Instant?) throws -> GreenTaskState? {
        assertOnHubThread("a green wait")
        try Task.checkCancellation()
        guard let state = greenTasks[currentTaskID()] else { return nil }
        // A task Evy started: its lifelong cancellation handler covers this wait.
        state.currentWait = waiter
        state.wait.pointee = (nextWaitLabel.pointee, deadline)
        nextWaitLabel.pointee = "a wait"
        return state
    }

    @usableFromInline @inline(never)
    func endPark(_ state: GreenTaskState) {
        state.currentWait = nil
        if let detector = blockingDetector { detector.running(state.context.name) }
    }

    /// A wait in a task Evy did not start: a cancellation handler for this wait alone. Kept out of
    /// line so that the common path's async frame stays small (frames live in the task's
    /// allocator for as long as the green thread is parked).
    @usableFromInline @inline(never)
    func parkInForeignTask<Value>(
        _ waiter: Waiter<Value>, deadline: ContinuousClock.Instant?, enroll: (Waiter<Value>) -> Void
    ) async throws -> Value {
        try await withTaskCancellationHandler {
            try await suspend(waiter, deadline: deadline, enroll: enroll)
        } onCancel: {
            // May run on any thread, even before the continuation exists: hop to the hub, whose
            // queue orders this after the enrolment.
            self.callFromThread { waiter.cancel() }
        }
    }

    @inlinable @inline(__always)
    func suspend<Value>(
        _ waiter: Waiter<Value>, deadline: ContinuousClock.Instant?, enroll: (Waiter<Value>) -> Void
    ) async throws -> Value {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Value, any Error>) in
            waiter.attach(continuation)
            enroll(waiter)
            if let deadline, waiter.isWaiting {
                waiter.timer = callAt(deadline) { waiter.resume(throwing: ParkTimedOut()) }
            }
        }
    }

    /// Like ``park(deadline:enroll:)`` but deaf to cancellation: for the few waits that must
    /// complete (re-acquiring a condition's lock), and never used without a resumer in sight.
    func parkUninterruptibly<Value>(enroll: (Waiter<Value>) -> Void) async -> Value {
        assertOnHubThread("a green wait")
        let waiter = Waiter<Value>()
        // The waiter is only resumed with values, so the continuation never throws.
        return try! await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Value, any Error>) in
            waiter.attach(continuation)
            enroll(waiter)
        }
    }

    /// The deadline `timeout` from now, or nil for no timeout.
    @inlinable
    func deadline(after timeout: Duration?) -> ContinuousClock.Instant? {
        timeout.map { now.advanced(by: max($0, .zero)) }
    }
}
