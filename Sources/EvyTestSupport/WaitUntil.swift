import Evy

/// Lets the other green threads of this hub run until `condition` holds: for a test that needs
/// another green thread to reach a point (parked in a wait, a step done) before it goes on.
/// Checks after each turn of the hub; throws a `TimeoutError` labelled `what` if `condition`
/// still fails after `timeout`. Call it from a green thread.
public func waitUntil(_ what: String, timeout: Duration = .seconds(5), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TimeoutError(duration: timeout, label: what) }
        try await sleep(for: .zero)
    }
}

/// Like ``waitUntil(_:timeout:_:)`` for a condition that must itself wait (a query to another
/// process, a file another process writes): asks again every `interval` until it holds; throws a
/// `TimeoutError` labelled `what` after `timeout`.
public func waitUntilAsync(
    _ what: String, timeout: Duration = .seconds(5), every interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw TimeoutError(duration: timeout, label: what) }
        try await sleep(for: interval)
    }
}
