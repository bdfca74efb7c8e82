import EvyTestSupport
import Foundation
import Synchronization
import XCTest

@testable import Evy

struct Boom: Error, Equatable { var code = 1 }

extension Hub {
    /// Whether a green thread is parked in ``wait(for:on:timeout:)`` for `readiness` on `fd`.
    func hasWaiter(on fd: Int32, for readiness: IOReadiness = .readable) -> Bool {
        let watcher = watchers[fd]
        return (readiness == .readable ? watcher?.readWaiter : watcher?.writeWaiter)?.isWaiting == true
    }
}
