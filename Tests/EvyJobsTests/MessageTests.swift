import EvyJobs
import XCTest

final class MessageTests: XCTestCase {
    func testJobOptionsDefaultToNowWithNoLimits() {
        let options = JobOptions()
        XCTAssertEqual(options.notBefore, 0)
        XCTAssertEqual(options.maxRetries, 255, "255 means the dispatcher's default")
        XCTAssertTrue(options.dedupKey.isEmpty && options.concurrencyKey.isEmpty)
    }
}
