import Evy
import EvyTestSupport
import EvyZMQ
import Glibc
import XCTest

final class ZMQOptionTests: XCTestCase {
    func testTypedOptionsReadBackWhatWasSet() throws {
        try green {
            let socket = try ZMQSocket(.dealer)
            try socket.setOption(.sendHighWaterMark, 2)
            try socket.setHighWaterMarks(receive: 3)
            try socket.setOption(.linger, .milliseconds(250))
            try socket.setOption(.routingID, Array("me".utf8))
            try socket.setOption(.immediate, true)
            try socket.setMaxMessageSize(1024)
            try socket.setOption(.heartbeatInterval, .seconds(2))
            XCTAssertEqual(try socket.option(.sendHighWaterMark), 2)
            XCTAssertEqual(try socket.option(.receiveHighWaterMark), 3)
            XCTAssertEqual(try socket.option(.linger), .milliseconds(250))
            XCTAssertEqual(try socket.option(.routingID), Array("me".utf8))
            XCTAssertEqual(try socket.option(.immediate), true)
            XCTAssertEqual(try socket.option(.maxMessageSize), 1024)
            XCTAssertEqual(try socket.option(.heartbeatInterval), .seconds(2))
            XCTAssertEqual(try socket.option(.receiveMore), false)
            try socket.setLinger(nil)
            XCTAssertNil(try socket.option(.linger), "-1 is for ever")
            try socket.bind("tcp://127.0.0.1:*")
            XCTAssertEqual(try socket.option(.lastEndpoint), socket.lastEndpoint)
            XCTAssertTrue(socket.lastEndpoint?.hasPrefix("tcp://127.0.0.1:") ?? false)
            do {
                try socket.setOption(.lastEndpoint, "x")
                XCTFail("read-only")
            } catch let error as ZMQError {
                XCTAssertEqual(error.code, EINVAL)
            }
            socket.close(linger: .zero)
            XCTAssertThrowsError(try socket.option(.sendHighWaterMark))
        }
    }
}
