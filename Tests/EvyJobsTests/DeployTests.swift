import Foundation
import XCTest

/// The files in deploy/ are checked as the tools that read them would: `systemd-analyze verify`
/// on every unit (their executables pointed at this build's), with no warning allowed.
final class DeployTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func testTheSystemdUnitsVerify() throws {
        let analyze = "/usr/bin/systemd-analyze"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: analyze), "needs systemd-analyze")
        let units = Self.repository.appendingPathComponent("deploy/systemd")
        let names = try FileManager.default.contentsOfDirectory(atPath: units.path).filter { $0.hasSuffix(".service") }
        XCTAssertEqual(Set(names), ["evy-dispatcher.service", "evy-collector.service", "evy-worker@.service"])
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let directory = NSTemporaryDirectory() + "evy-units-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var paths: [String] = []
        for name in names {
            let text = try String(contentsOf: units.appendingPathComponent(name), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/", with: binaries.path + "/")
            // A template is verified as one of its instances.
            let path = directory + "/" + name.replacingOccurrences(of: "@.service", with: "@1.service")
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyze)
        process.arguments = ["verify"] + paths
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        let complaints = text.split(separator: "\n").filter { line in paths.contains { line.contains($0) } }
        XCTAssertEqual(complaints, [], "no warning about the units")
    }

    /// The Kubernetes manifests against the API's schemas (kubernetes-validate from PyPI, which
    /// bundles them: offline), strictly (no unknown fields).
    func testTheKubernetesManifestsValidate() throws {
        let manifests = Self.repository.appendingPathComponent("deploy/kubernetes")
        let files = try FileManager.default.contentsOfDirectory(atPath: manifests.path)
            .filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }.sorted()
        XCTAssertEqual(files, ["collector.yaml", "dispatcher.yaml", "workers.yaml"])
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import kubernetes_validate"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        try XCTSkipUnless(probe.terminationStatus == 0, "needs kubernetes-validate (scripts/setup installs it)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-m", "kubernetes_validate", "--strict"] + files.map { manifests.appendingPathComponent($0).path }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertEqual(text.components(separatedBy: " passed for resource ").count - 1, 6, "six resources: \(text)")
        let kustomization = try String(contentsOf: manifests.appendingPathComponent("kustomization.yaml"), encoding: .utf8)
        for file in files { XCTAssertTrue(kustomization.contains("- \(file)"), "\(file) in kustomization.yaml") }
    }
}
