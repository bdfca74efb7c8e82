import Foundation
import Synchronization
import XCTest
@testable import Evy

/// Runs `body` as the main green thread of a hub, failing the test if it takes longer than
/// `deadline` (a hang is a failure, not a stuck CI run).
func green<T: Sendable>(
    deadline: Duration = .seconds(20), file: StaticString = #filePath, line: UInt = #line,
    _ body: @escaping @Sendable () async throws -> T
) throws -> T {
    try Hub.run {
        try await withTimeout(deadline, label: "test deadline") { try await body() }
    }
}

/// A value box shared between green threads of one hub (hub-confined, hence unchecked).
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

/// Collects values from any thread.
final class Collector<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func append(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
}

struct Boom: Error, Equatable { var code = 1 }

/// Lets the other green threads run until `condition` holds: for a test that needs another green
/// thread to reach a point (parked in a wait, a step done) before it goes on. Throws a
/// ``TimeoutError`` labelled `what` if `condition` still fails after `timeout`.
func waitUntil(_ what: String, timeout: Duration = .seconds(5), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TimeoutError(duration: timeout, label: what) }
        try await sleep(for: .zero)
    }
}

extension Hub {
    /// Whether a green thread is parked in ``wait(for:on:timeout:)`` for `readiness` on `fd`.
    func hasWaiter(on fd: Int32, for readiness: IOReadiness = .readable) -> Bool {
        let watcher = watchers[fd]
        return (readiness == .readable ? watcher?.readWaiter : watcher?.writeWaiter)?.isWaiting == true
    }
}

extension AsyncSequence {
    func collect() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}
