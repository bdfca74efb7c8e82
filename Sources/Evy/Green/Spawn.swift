/// Starts `body` as a green thread on the current hub and returns its handle.
///
/// The green thread starts on the hub's next turn; the caller keeps running until it waits.
/// ```swift
/// let answer = spawn { 6 * 7 }
/// print(try await answer.wait())   // 42
/// ```
@discardableResult
public func spawn<Value: Sendable>(
    name: String? = nil, _ body: @escaping @Sendable () async throws -> Value
) -> GreenThread<Value> {
    GreenThread.start(on: Hub.current, name: name, after: nil, body: body)
}

/// Starts `body` as a green thread once `delay` has passed. Killing it before then means it never
/// runs.
@discardableResult
public func spawnAfter<Value: Sendable>(
    _ delay: Duration, name: String? = nil, _ body: @escaping @Sendable () async throws -> Value
) -> GreenThread<Value> {
    let hub = Hub.current
    hub.assertOnHubThread("spawnAfter")
    return GreenThread.start(on: hub, name: name, after: delay, body: body)
}

/// Starts `body` as a green thread without a handle: the cheapest spawn. An error thrown by `body`
/// is logged (logger `evy.spawn`), never lost silently.
public func spawnN(name: String? = nil, _ body: @escaping @Sendable () async throws -> Void) {
    startDetached(on: Hub.current, name: name, pool: nil, body)
}

func startDetached(
    on hub: Hub, name: String?, pool: ObjectIdentifier?, onExit: (@Sendable () -> Void)? = nil,
    _ body: @escaping @Sendable () async throws -> Void
) {
    let context = GreenContext(name: name, pool: pool)
    Task(name: name, executorPreference: hub.greenThreadPreference) {
        defer { onExit?() }
        await hub.runGreenTask(context: context) {
            do {
                try await body()
            } catch {
                logFailure(of: name, error)
            }
        }
    }
}

/// Logs the error that ended a green thread without a handle. Out of line on purpose: the async
/// frame of the caller stays small (it lives as long as the green thread).
@inline(never)
func logFailure(of name: String?, _ error: any Error) {
    guard !(error is CancellationError) else { return }
    spawnLogger.error("green thread \(name.map { "'\($0)'" } ?? "<unnamed>") failed: \(error)")
}

/// Suspends the calling green thread for `duration` (never less); other green threads run
/// meanwhile. `sleep(for: .zero)` just lets every other ready green thread run first.
///
/// Throws `CancellationError` if the green thread is killed or its ``withTimeout(_:_:)`` fires.
public func sleep(for duration: Duration) async throws {
    let hub = Hub.current
    if duration <= .zero {
        hub.assertOnHubThread("sleep")
        try Task.checkCancellation()
        await Task.yield()
        try Task.checkCancellation()
        return
    }
    do {
        hub.nextWaitLabel.pointee = "sleep"
        let _: Void = try await hub.park(deadline: hub.now.advanced(by: duration)) { _ in }
    } catch is ParkTimedOut {
        return
    }
}
