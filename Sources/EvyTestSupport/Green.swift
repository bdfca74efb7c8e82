import Evy

/// Runs `body` as the main green thread of a new hub on the calling thread and returns its
/// result; throws `TimeoutError` (label "test deadline") if it takes longer than `deadline`, so a
/// hang fails the test instead of stalling the run. Errors from `body` propagate.
public func green<T: Sendable>(
    deadline: Duration = .seconds(30), _ body: @escaping @Sendable () async throws -> T
) throws -> T {
    try Hub.run { try await withTimeout(deadline, label: "test deadline") { try await body() } }
}
