import Logging

/// What every green thread Evy starts carries with it: its name, its local storage and the pool it
/// belongs to. The hub finds it by task; a ``withTimeout(_:label:_:)`` body is registered with
/// the same context, so it belongs to the same green thread. Child tasks you create yourself (task
/// groups, `async let`, `Task {}`) do not: start them with ``spawn(name:_:)`` to make them green
/// threads of their own.
///
/// Hub-confined, like everything a green thread touches.
@usableFromInline
final class GreenContext: @unchecked Sendable {
    @usableFromInline let name: String?
    var locals: [ObjectIdentifier: Any] = [:]
    /// The pool that started this green thread, if any (identity only).
    let pool: ObjectIdentifier?

    init(name: String?, pool: ObjectIdentifier?) {
        self.name = name
        self.pool = pool
    }

    /// The context of the green thread running the caller, if Evy started it.
    @inlinable static var current: GreenContext? { GreenTaskState.current?.context }
}

/// A green thread that produces a `Value`: wait for it, kill it, or link a callback to its end.
///
/// Created by ``spawn(name:_:)``, ``spawnAfter(_:name:_:)`` and ``GreenPool/spawn(name:_:)``. The
/// body runs on the hub as a Swift task that prefers the hub's executor; ``kill()`` cancels it, so
/// the body's next wait throws `CancellationError`.
///
/// ```swift
/// let fetcher = spawn(name: "fetch") { try await fetchTitle(url) }
/// fetcher.link { result in print("done:", result) }
/// let title = try await fetcher.wait()
/// ```
///
/// Hub-confined: use it from green threads of the hub that started it.
public final class GreenThread<Value: Sendable>: @unchecked Sendable {
    /// The name given at spawn time; it also names the Swift task.
    public let name: String?
    unowned let hub: Hub
    private var task: Task<Void, Never>?
    private var startTimer: Handle?
    private var result: Result<Value, any Error>?
    private var waiters = WaiterQueue<Waiter<Void>>()
    private var links: [(token: Int, callback: (Result<Value, any Error>) -> Void)] = []
    private var nextLinkToken = 0
    private var cancelledBeforeStart = false
    /// Whether the body has begun to run.
    private var started = false
    /// Runs first when the green thread ends, however it ends (a pool's slot accounting).
    private var onExit: (() -> Void)?

    private init(hub: Hub, name: String?) {
        self.hub = hub
        self.name = name
    }

    /// Starts `body` on `hub`, now or once `delay` has passed.
    static func start(
        on hub: Hub, name: String?, pool: ObjectIdentifier? = nil, after delay: Duration?,
        onExit: (() -> Void)? = nil, body: @escaping @Sendable () async throws -> Value
    ) -> GreenThread {
        let thread = GreenThread(hub: hub, name: name)
        thread.onExit = onExit
        if let delay {
            thread.startTimer = hub.callLater(delay) { [thread] in
                thread.startTimer = nil
                thread.launch(pool: pool, body)
            }
        } else {
            thread.launch(pool: pool, body)
        }
        return thread
    }

    private func launch(pool: ObjectIdentifier?, _ body: @escaping @Sendable () async throws -> Value) {
        let context = GreenContext(name: name, pool: pool)
        task = Task(name: name, executorPreference: hub.greenThreadPreference) { [self] in
            guard !Task.isCancelled else { return finish(.failure(CancellationError())) }
            started = true
            await hub.runGreenTask(context: context) {
                do { finish(.success(try await body())) } catch { finish(.failure(error)) }
            }
        }
    }

    /// A green thread that already ran, inline, in its caller (a full pool spawning into itself).
    static func finished(on hub: Hub, name: String?, outcome: Result<Value, any Error>) -> GreenThread {
        let thread = GreenThread(hub: hub, name: name)
        thread.result = outcome
        return thread
    }

    private func finish(_ outcome: Result<Value, any Error>) {
        result = outcome
        if let onExit {
            self.onExit = nil
            onExit()
        }
        for waiter in waiters.takeAll() { waiter.resume(returning: ()) }
        let links = self.links
        self.links = []
        for link in links { link.callback(outcome) }
    }

    /// Waits for the green thread to finish and returns its value, or throws its error
    /// (`CancellationError` if it was killed). With a `timeout`, throws ``TimeoutError`` if it has
    /// not finished by then; the green thread itself keeps running.
    @discardableResult
    public func wait(timeout: Duration? = nil) async throws -> Value {
        if result == nil {
            do {
                hub.nextWaitLabel.pointee = "green thread end"
                try await hub.park(deadline: hub.deadline(after: timeout)) { waiter in
                    if result != nil { waiter.resume(returning: ()) } else { waiters.append(waiter) }
                }
            } catch is ParkTimedOut {
                throw TimeoutError(duration: timeout ?? .zero)
            }
        }
        return try result!.get()
    }

    /// Kills the green thread and waits until it has ended: a green thread that has not started
    /// never runs; a running one gets `CancellationError` from its current or next wait. Its
    /// ``wait(timeout:)`` then throws `CancellationError` (or whatever the body chose to return).
    public func kill() async {
        cancel()
        guard result == nil else { return }
        let _: Void? = try? await hub.park { waiter in
            if result != nil { waiter.resume(returning: ()) } else { waiters.append(waiter) }
        }
    }

    /// Kills the green thread only if its body has not started running yet (Eventlet's `cancel`);
    /// returns whether it was stopped. A green thread already running is left alone.
    @discardableResult
    public func cancelIfNotStarted() -> Bool {
        guard !started, result == nil else { return false }
        cancel()
        return true
    }

    /// Asks the green thread to stop, without waiting for it (``kill()`` waits).
    public func cancel() {
        if let startTimer {
            startTimer.cancel()
            self.startTimer = nil
            cancelledBeforeStart = true
            finish(.failure(CancellationError()))
            return
        }
        task?.cancel()
    }

    /// Whether the green thread has finished, by returning, throwing or being killed.
    public var isDone: Bool { result != nil }

    /// Whether the green thread was killed before it could start.
    public var wasCancelledBeforeStart: Bool { cancelledBeforeStart }

    /// The outcome, once finished.
    public var outcome: Result<Value, any Error>? { result }

    /// Calls `callback` on the hub with the outcome when the green thread ends (at once, on the
    /// hub's next turn, if it has ended already). Returns a token for ``unlink(_:)``.
    @discardableResult
    public func link(_ callback: @escaping (Result<Value, any Error>) -> Void) -> Int {
        nextLinkToken += 1
        if let result {
            hub.callSoon { callback(result) }
        } else {
            links.append((nextLinkToken, callback))
        }
        return nextLinkToken
    }

    /// Removes a callback added with ``link(_:)``; returns whether it was still registered.
    @discardableResult
    public func unlink(_ token: Int) -> Bool {
        guard let index = links.firstIndex(where: { $0.token == token }) else { return false }
        links.remove(at: index)
        return true
    }
}

/// Information about the green thread running the caller.
public enum CurrentGreenThread {
    /// The name of the current green thread, if it was started by Evy with a name.
    public static var name: String? { GreenContext.current?.name }

    /// Whether the caller runs in a green thread started by Evy.
    public static var isGreen: Bool { GreenContext.current != nil }
}

/// Made per use (errors only), so a logging system bootstrapped late still applies.
var spawnLogger: Logger { Logger(label: "evy.spawn") }
