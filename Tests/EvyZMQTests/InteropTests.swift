import Evy
import EvyTestSupport
import EvyZMQ
import Foundation
import XCTest

/// Messages exchanged with an independent peer: a Python pyzmq process.
final class PyZMQInteropTests: XCTestCase {
    func testBothDirectionsWithPyZMQ() throws {
        let (replies, status, errors) = try green { () -> ([String], ExitStatus, String) in
            let toPython = try ZMQSocket(.push)
            try toPython.bind("tcp://127.0.0.1:*")
            let fromPython = try ZMQSocket(.pull)
            try fromPython.bind("tcp://127.0.0.1:*")
            let script = """
                import sys, zmq
                context = zmq.Context()
                pull = context.socket(zmq.PULL); pull.connect(sys.argv[1])
                push = context.socket(zmq.PUSH); push.connect(sys.argv[2])
                for _ in range(3):
                    parts = pull.recv_multipart()
                    push.send_multipart([b"python saw"] + parts)
                push.send(b"done")
                push.close(linger=1000); pull.close(); context.term()
                """
            let python = try ChildProcess(
                ["python3", "-c", script, toPython.lastEndpoint!, fromPython.lastEndpoint!],
                standardInput: .discard)
            for i in 0..<3 { try await toPython.sendMultipart([Array("from swift".utf8), Array("\(i)".utf8)]) }
            var replies: [String] = []
            for _ in 0..<4 {
                let message = try await fromPython.receiveMultipart(timeout: .seconds(20))
                replies.append(message.map(\.text).joined(separator: "|"))
            }
            let (status, _, errors) = try await python.communicate(timeout: .seconds(20))
            toPython.close(linger: .zero)
            fromPython.close(linger: .zero)
            return (replies, status, errors.text)
        }
        XCTAssertTrue(status.succeeded, "python3 with pyzmq (installed by scripts/setup) failed: \(errors)")
        XCTAssertEqual(
            replies, ["python saw|from swift|0", "python saw|from swift|1", "python saw|from swift|2", "done"])
    }
}
