import Evy
import EvyTestSupport
import EvyZMQ
import Foundation
import XCTest

/// The green ZeroMQ examples, run to completion.
final class ZMQExampleTests: XCTestCase {
    private func run(_ example: String, _ arguments: [String]) throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("example-\(example)").path
        let (status, output, errors) = try green(deadline: .seconds(60)) {
            try await ChildProcess.run([binary] + arguments, timeout: .seconds(50))
        }
        XCTAssertEqual(status, .exited(0), errors.text)
        return output.text
    }

    func testPipelineWithGreenAndProcessWorkers() throws {
        let output = try run("zmq-pipeline", ["40", "2", "2"])
        XCTAssertTrue(output.contains("40 tasks"), output)
        XCTAssertTrue(
            output.contains("green 0:") && output.contains("process "), "both kinds of worker took tasks: \(output)")
    }

    func testRequestReplyPublishSubscribeAndBroker() throws {
        XCTAssertEqual(try run("zmq-reqrep", ["3"]).split(separator: "\n").filter { $0.hasSuffix("World") }.count, 3)
        let weather = try run("zmq-pubsub", ["5"])
        XCTAssertTrue(weather.contains("zip code 10001") && weather.contains("zip code 10003"), weather)
        let broker = try run("zmq-broker", ["3", "2", "4"])
        XCTAssertTrue(broker.contains("12 requests answered; the broker forwarded 24 messages"), broker)
    }

    func testSharedContextFlushesQueuedMessagesAtExit() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("example-zmq-pipeline").path
        let received = try green { () -> Int in
            let sink = try ZMQSocket(.pull)
            try sink.bind("tcp://127.0.0.1:*")
            let (status, _, errors) = try await ChildProcess.run(
                [binary, "ventilator", sink.lastEndpoint!, "200"], timeout: .seconds(30))
            XCTAssertEqual(status, .exited(0), errors.text)
            var count = 0
            while (try? await sink.receive(timeout: .seconds(2))) != nil { count += 1 }
            sink.close(linger: .zero)
            return count
        }
        XCTAssertEqual(received, 200, "messages queued when the process exited were delivered")
    }
}
