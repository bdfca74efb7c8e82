import Foundation
import XCTest

/// docs/cli.md is what the commands' `--help` says now (scripts/cli-reference writes it).
final class CLIReferenceTests: XCTestCase {
    func testTheCommandReferenceIsCurrent() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let fresh = NSTemporaryDirectory() + "evy-cli-\(UUID().uuidString).md"
        defer { try? FileManager.default.removeItem(atPath: fresh) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repository.appendingPathComponent("scripts/cli-reference").path, binaries.path, fresh]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let committed = try String(contentsOf: repository.appendingPathComponent("docs/cli.md"), encoding: .utf8)
        XCTAssertEqual(
            try String(contentsOfFile: fresh, encoding: .utf8), committed,
            "docs/cli.md is stale: run scripts/cli-reference")
    }
}
