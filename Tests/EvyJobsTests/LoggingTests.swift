import Evy
import EvyTestSupport
import Foundation
import Glibc
import XCTest

/// `--log-format json` on a role: every log line on standard error is one JSON object.
final class LoggingTests: XCTestCase {
    func testARoleLogsJSONLinesWhenAsked() throws {
        let directory = NSTemporaryDirectory() + "evy-logs-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("evy-dispatcher").path
        try green(deadline: .seconds(30)) {
            let dispatcher = try ChildProcess(
                [binary, "--log-format", "json", "--log-level", "info", "--client-endpoint", "tcp://127.0.0.1:*",
                 "--worker-endpoint", "tcp://127.0.0.1:*", "--data-dir", directory],
                standardInput: .discard, standardOutput: .discard, standardError: .pipe)
            defer { try? dispatcher.kill(SIGKILL) }
            let line = try await dispatcher.standardError!.buffered().readLine(timeout: .seconds(20)) ?? ""
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertEqual(object?["level"] as? String, "info", line)
            XCTAssertEqual(object?["logger"] as? String, "evy.dispatcher")
            XCTAssertTrue((object?["message"] as? String)?.contains("pending jobs from the journal") == true, line)
            XCTAssertTrue((object?["time"] as? String)?.hasSuffix("Z") == true, "UTC ISO 8601: \(line)")
            try dispatcher.kill(SIGTERM)
            _ = try await dispatcher.wait(timeout: .seconds(10))
        }
    }
}
