import EvyZMQ
import XCTest

@testable import EvyJobs

/// A refused role logs the first refusal of an endpoint at once and then one line a minute with
/// the attempts since, whichever of its links (one per reconnect) saw them.
final class HandshakeRefusalsTests: XCTestCase {
    func testTheFirstRefusalIsSaidThenOneLineAMinutePerEndpoint() throws {
        let refusals = HandshakeRefusals()
        let start = ContinuousClock.now
        let first = try XCTUnwrap(refusals.note(.handshakeFailedAuth, at: "tcp://198.51.100.1:5556", now: start))
        XCTAssertTrue(first.hasPrefix("tcp://198.51.100.1:5556 refused the handshake"), first)
        XCTAssertFalse(first.contains("attempts"), first)
        XCTAssertNotNil(
            refusals.note(.handshakeFailedAuth, at: "tcp://198.51.100.1:5557", now: start), "another endpoint has its own minute")
        for second in 1...59 {
            XCTAssertNil(refusals.note(.handshakeFailedAuth, at: "tcp://198.51.100.1:5556", now: start + .seconds(second)))
        }
        let later = try XCTUnwrap(refusals.note(.handshakeFailedAuth, at: "tcp://198.51.100.1:5556", now: start + .seconds(60)))
        XCTAssertTrue(later.contains("60 attempts in the last minute"), later)
    }
}
