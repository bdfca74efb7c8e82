/// Runs `body`, interrupting it once `duration` has passed: every wait inside it then throws
/// `CancellationError`, and the scope throws ``TimeoutError`` naming this timeout (its `duration`
/// and `label`). A `nil` duration sets no timer at all.
///
/// Nested timeouts each fire correctly: the error always names the timeout that ran out, so an
/// outer handler can tell its own timeout from an inner one.
/// ```swift
/// do {
///     let page = try await withTimeout(.seconds(5), label: "fetch") { try await fetch(url) }
/// } catch let error as TimeoutError where error.label == "fetch" {
///     print("gave up on", url)
/// }
/// ```
/// The body runs as a child task of the calling green thread (same hub, same green-thread local
/// storage), so the caller is not left cancelled once the scope has ended. If `body` catches the
/// cancellation and returns normally, its value is returned.
public func withTimeout<Value: Sendable>(
    _ duration: Duration?, label: String? = nil,
    _ body: sending @escaping () async throws -> Value
) async throws -> Value {
    switch try await runWithTimeout(duration, body) {
    case .finished(let value): return value
    case .timedOut: throw TimeoutError(duration: duration ?? .zero, label: label)
    }
}

/// Like ``withTimeout(_:label:_:)``, but returns `fallback` instead of throwing when this timeout
/// runs out (Evy's `Timeout(seconds, False)` and `with_timeout(..., timeout_value=...)`). A
/// ``TimeoutError`` from a timeout nested inside `body` still propagates.
/// ```swift
/// let reply = try await withTimeout(.seconds(1), orElse: nil) { try await queue.get() }
/// ```
public func withTimeout<Value: Sendable>(
    _ duration: Duration?, orElse fallback: Value,
    _ body: sending @escaping () async throws -> Value
) async throws -> Value {
    switch try await runWithTimeout(duration, body) {
    case .finished(let value): return value
    case .timedOut: return fallback
    }
}

private enum TimeoutOutcome<Value> {
    case finished(Value)
    case timedOut
}

private func runWithTimeout<Value: Sendable>(
    _ duration: Duration?, _ body: sending @escaping () async throws -> Value
) async throws -> TimeoutOutcome<Value> {
    guard let duration else { return .finished(try await body()) }
    let hub = Hub.current
    hub.assertOnHubThread("withTimeout")
    // The body is part of the calling green thread: same context (name, local storage, pool).
    let context = GreenContext.current ?? GreenContext(name: nil, pool: nil)
    let child = Task(executorPreference: hub.greenThreadPreference) { () async throws -> Value in
        let outcome: Result<Value, any Error> = await hub.runGreenTask(context: context) {
            do { return .success(try await body()) } catch { return .failure(error) }
        }
        return try outcome.get()
    }
    var fired = false
    let timer = hub.callLater(duration) {
        fired = true
        child.cancel()
    }
    defer { timer.cancel() }
    do {
        return .finished(
            try await withTaskCancellationHandler {
                try await child.value
            } onCancel: {
                child.cancel()
            })
    } catch is CancellationError where fired && !Task.isCancelled {
        // Our timer cancelled the body. Any other error, an inner timeout's included, is the
        // body's own and propagates.
        return .timedOut
    }
}
