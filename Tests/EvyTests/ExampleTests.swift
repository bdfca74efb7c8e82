import EvyTestSupport
import Foundation
import XCTest

/// Runs the quick examples of `Examples/` and checks what they print.
final class ExampleTests: XCTestCase {
    private func run(_ example: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("example-\(example)")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            XCTFail("build the examples first: swift build (scripts/test does)", file: file, line: line)
            return ""
        }
        let process = Process()
        process.executableURL = binary
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text, file: file, line: line)
        return text
    }

    func testChannelProducerConsumer() throws {
        let output = try run("channel-producer-consumer")
        XCTAssertEqual(output.split(separator: "\n").filter { $0.hasPrefix("C") }.count, 25)
        XCTAssertTrue(output.contains("done: C0 C1 C2 C3 C4 P0 P1 P2 P3 P4"), output)
    }

    func testEventWaiters() throws {
        let output = try run("event-waiters")
        for number in 0..<5 { XCTAssertTrue(output.contains("\(number) hello"), output) }
        XCTAssertTrue(output.contains("second send refused"), output)
    }

    func testEventLoop() throws {
        let output = try run("event-loop")
        for line in [
            "call_soon", "call_at +10 ms", "call_later 20 ms", "SIGUSR1 handled", "call_from_thread",
            "run() returned",
        ] {
            XCTAssertTrue(output.contains(line), "missing \(line) in \(output)")
        }
        XCTAssertFalse(output.contains("never printed"))
    }

    func testQueueWorkersAndTaskLocal() throws {
        XCTAssertTrue(try run("queue-workers").contains("all 20 items processed by 4 workers"))
        let local = try run("task-local")
        XCTAssertTrue(
            local.contains("green thread 3 sees 3") && local.contains("main green thread still sees 1"), local)
    }

    func testThreadPoolCopy() throws {
        let output = try run("thread-pool-copy")
        XCTAssertTrue(output.contains("\"dest4.txt\""), output)
    }
}
