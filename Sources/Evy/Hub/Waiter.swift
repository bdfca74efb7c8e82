/// One green thread parked on a hub until something resumes it, its deadline passes or it is
/// cancelled. Every cooperative wait in Evy (sleep, locks, queues, events, channels, pools, futures,
/// file descriptors) is built on ``Hub/park(deadline:enroll:)``.
///
/// Hub-confined: created, resumed and failed on the hub's thread only.
final class Waiter<Value>: @unchecked Sendable {
    private var continuation: UnsafeContinuation<Value, any Error>?
    fileprivate var timer: Handle?
    /// Set once the waiter has been resumed, failed, timed out or cancelled.
    private(set) var isFinished = false

    /// Whether the waiter still waits.
    var isWaiting: Bool { !isFinished }

    /// Resumes the parked green thread with `value`; returns false if it no longer waits.
    @discardableResult
    func resume(returning value: sending Value) -> Bool {
        guard let continuation = finish() else { return false }
        continuation.resume(returning: value)
        return true
    }

    /// Resumes the parked green thread by throwing `error`; returns false if it no longer waits.
    @discardableResult
    func resume(throwing error: any Error) -> Bool {
        guard let continuation = finish() else { return false }
        continuation.resume(throwing: error)
        return true
    }

    private func finish() -> UnsafeContinuation<Value, any Error>? {
        guard !isFinished else { return nil }
        isFinished = true
        timer?.cancel()
        timer = nil
        let continuation = self.continuation
        self.continuation = nil
        return continuation
    }

    fileprivate func attach(_ continuation: UnsafeContinuation<Value, any Error>) {
        self.continuation = continuation
    }
}

/// Thrown inside Evy when a park's own deadline passes; each primitive turns it into its documented
/// outcome (`false`, `nil`, ``QueueEmpty``, ``QueueFull``...).
struct ParkTimedOut: Error {}

extension Hub {
    /// Parks the calling green thread until `enroll`'s waiter is resumed, `deadline` passes (throws
    /// ``ParkTimedOut``) or the task is cancelled (throws `CancellationError`). `enroll` runs
    /// synchronously, before the green thread is suspended; it stores the waiter where the
    /// resuming side will find it. A waiter that timed out or was cancelled is finished, so whoever
    /// later finds it must skip it (`isWaiting` is false).
    func park<Value>(
        deadline: ContinuousClock.Instant? = nil,
        enroll: (Waiter<Value>) -> Void
    ) async throws -> Value {
        assertOnHubThread("a green wait")
        try Task.checkCancellation()
        let waiter = Waiter<Value>()
        defer { if let detector = blockingDetector { detector.running(GreenContext.current?.name) } }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Value, any Error>) in
                waiter.attach(continuation)
                enroll(waiter)
                if let deadline, waiter.isWaiting {
                    waiter.timer = callAt(deadline) { waiter.resume(throwing: ParkTimedOut()) }
                }
            }
        } onCancel: {
            // May run on any thread, even before the continuation exists: hop to the hub, whose
            // queue orders this after the enrolment above.
            self.callFromThread { waiter.resume(throwing: CancellationError()) }
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
    func deadline(after timeout: Duration?) -> ContinuousClock.Instant? {
        timeout.map { now.advanced(by: max($0, .zero)) }
    }
}
