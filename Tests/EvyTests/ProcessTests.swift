import EvyTestSupport
import Foundation
import Glibc
import XCTest

@testable import Evy

final class ProcessTests: XCTestCase {
    func testRunCapturesOutputErrorAndStatus() throws {
        let (status, output, error) = try green {
            try await ChildProcess.run(
                ["sh", "-c", "cat; echo oops >&2; exit 3"], input: Array("piped in\n".utf8), timeout: .seconds(10))
        }
        XCTAssertEqual(status, .exited(3))
        XCTAssertEqual(String(decoding: output, as: UTF8.self), "piped in\n")
        XCTAssertEqual(String(decoding: error, as: UTF8.self), "oops\n")
    }

    func testLargeOutputAndInputDoNotDeadlock() throws {
        let count = try green { () -> Int in
            let input = [UInt8](repeating: 65, count: 1_000_000)
            let (status, output, _) = try await ChildProcess.run(["cat"], input: input, timeout: .seconds(20))
            XCTAssertTrue(status.succeeded)
            return output.count
        }
        XCTAssertEqual(count, 1_000_000)
    }

    func testWaitingForAChildKeepsOtherGreenThreadsRunning() throws {
        try green {
            let child = try ChildProcess(
                ["sleep", "0.2"], standardInput: .discard, standardOutput: .discard, standardError: .discard)
            XCTAssertGreaterThan(child.pid, 0)
            let ticks = Box(0)
            spawnN {
                for _ in 0..<5 {
                    try await sleep(for: .milliseconds(10))
                    ticks.value += 1
                }
            }
            do {
                try await child.wait(timeout: .milliseconds(20))
                XCTFail()
            } catch is TimeoutError {}
            let status = try await child.wait(timeout: .seconds(10))
            XCTAssertEqual(status, .exited(0))
            XCTAssertEqual(ticks.value, 5)
        }
    }

    func testKillAndStreamingOutput() throws {
        try green {
            let child = try ChildProcess(["sh", "-c", "echo ready; exec sleep 30"], standardInput: .discard)
            let stream = child.standardOutput!.buffered()
            let first = try await stream.readLine(timeout: .seconds(10))
            XCTAssertEqual(first, "ready")
            try child.kill()
            let status = try await child.wait(timeout: .seconds(10))
            XCTAssertEqual(status, .signaled(SIGTERM))
            try child.kill()  // harmless once ended
        }
    }

    func testMissingProgramAndEnvironment() throws {
        try green {
            do {
                _ = try ChildProcess(["/no/such/program"])
                XCTFail("expected an error")
            } catch let error as SocketError {
                XCTAssertEqual(error.errno, ENOENT)
            }
            let child = try ChildProcess(
                ["sh", "-c", "echo $GREETING; pwd"], environment: ["GREETING": "hi", "PATH": "/usr/bin:/bin"],
                workingDirectory: "/tmp")
            let (status, output, _) = try await child.communicate(timeout: .seconds(10))
            XCTAssertTrue(status.succeeded)
            XCTAssertEqual(String(decoding: output, as: UTF8.self), "hi\n/tmp\n")
        }
    }

    func testAFailedStartLeavesNoDescriptorOpen() throws {
        @Sendable func openDescriptors() throws -> Int {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
        }
        try green {
            let before = try openDescriptors()
            for _ in 0..<20 {
                XCTAssertThrowsError(try ChildProcess(["/no/such/program"], standardError: .discard))
            }
            XCTAssertLessThanOrEqual(try openDescriptors(), before)
        }
    }

    func testGreenPipePair() throws {
        try green {
            let (reader, writer) = try GreenPipe.makePipe()
            let received = spawn { () async throws -> String in
                var all: [UInt8] = []
                while case let chunk = try await reader.receive(), !chunk.isEmpty { all += chunk }
                return String(decoding: all, as: UTF8.self)
            }
            for word in ["green ", "pipes"] { try await writer.sendAll(Array(word.utf8)) }
            writer.close()
            let text = try await received.wait(timeout: .seconds(5))
            XCTAssertEqual(text, "green pipes")
            do { _ = try await reader.receive(timeout: .milliseconds(1)) } catch {}  // EOF: empty, no error
            reader.close()
            do {
                _ = try await reader.receive()
                XCTFail()
            } catch let error as SocketError { XCTAssertEqual(error, .closed) }
        }
    }

    func testGreenStandardStreamsThroughAChild() throws {
        // The example reads its stdin and writes its stdout through green pipes.
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("example-green-cat").path
        let (status, output, _) = try green {
            try await ChildProcess.run([binary], input: Array("one\ntwo\n".utf8), timeout: .seconds(20))
        }
        XCTAssertEqual(status, .exited(0))
        XCTAssertEqual(String(decoding: output, as: UTF8.self), "ONE\nTWO\n2 lines\n")
    }

    func testWritingToAPipeWithoutReaderIsAnErrorNotADeath() throws {
        try green {
            let (reader, writer) = try GreenPipe.makePipe()
            reader.close()
            do {
                try await writer.sendAll(Array("nobody listens".utf8))
                XCTFail("expected EPIPE")
            } catch let error as SocketError {
                XCTAssertEqual(error.errno, EPIPE)
            }
            writer.close()
        }
    }
}
