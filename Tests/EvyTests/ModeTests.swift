import EvyConformance
import EvyTestSupport
import Foundation
import XCTest

@testable import Evy

/// The conformance scenarios in both hub modes.
final class ModeTests: XCTestCase {
    func testScenariosInStableMode() throws {
        let lines = Collector<String>()
        let failed = try Hub.run { await runScenarios(greenWorld: false, print: { lines.append($0) }) }
        XCTAssertEqual(failed, 0, lines.all.joined(separator: "\n"))
        XCTAssertTrue(lines.all.last?.contains("0 failed") ?? false)
    }

    func testScenariosInGreenTheWorldMode() throws {
        // The test binary lives in the build directory, beside the package's executables.
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("evy-selftest")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            XCTFail("build it first: swift build --product evy-selftest (scripts/test does)")
            return
        }
        let process = Process()
        process.executableURL = binary
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        // The scenarios bound themselves; this bounds a hang of the whole binary.
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, report)
        XCTAssertTrue(report.contains("green-the-world mode): \(scenarios.count) passed, 0 failed"), report)
    }
}
