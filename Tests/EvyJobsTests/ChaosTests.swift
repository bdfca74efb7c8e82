import Evy
import EvyTestSupport
import Foundation
import XCTest

/// The short form of `scripts/chaos`: the same runner (`evy-bench chaos`), fewer jobs. The real
/// executables over tcp, a fault mid-run, every job counted.
final class ChaosTests: XCTestCase {
    private static func run(_ scenario: String, jobs: Int, rate: Int) throws -> [String: Any] {
        let bench = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("evy-bench").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bench)
        process.arguments = ["chaos", scenario, "\(jobs)", "\(rate)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        return (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? ["error": line]
    }

    func testAWorkerKilledMidRunLosesNothingAndRecordsNothingTwice() throws {
        let result = try Self.run("worker-kill", jobs: 7000, rate: 1000)
        XCTAssertNil(result["error"], "\(result)")
        XCTAssertEqual(result["faults"] as? Int, 1, "\(result)")
        XCTAssertEqual(result["accepted"] as? Int, 7000, "\(result)")
        XCTAssertEqual(result["lost"] as? Int, 0, "\(result)")
        XCTAssertEqual(result["recorded_twice"] as? Int, 0, "\(result)")
    }

    func testTheDispatcherKilledMidRunLosesNothingAndRecordsNothingTwice() throws {
        let result = try Self.run("dispatcher-kill", jobs: 7000, rate: 1000)
        XCTAssertNil(result["error"], "\(result)")
        XCTAssertEqual(result["faults"] as? Int, 1, "\(result)")
        XCTAssertEqual(result["accepted"] as? Int, 7000, "every job accepted, after resubmits")
        XCTAssertEqual(result["lost"] as? Int, 0, "\(result)")
        XCTAssertEqual(result["recorded_twice"] as? Int, 0, "\(result)")
    }
}
