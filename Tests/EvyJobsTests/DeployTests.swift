import Foundation
import XCTest

/// The files in deploy/ are checked as the tools that read them would: `systemd-analyze verify`
/// on every unit (their executables pointed at this build's), with no warning allowed;
/// `kubernetes-validate` and `kubectl kustomize` on the manifests; `docker-compose config` on the
/// compose file; and the Dockerfile's runtime stage against what the executables really load.
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
        let (status, text) = try run([analyze, "verify"] + paths)
        XCTAssertEqual(status, 0, text)
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
        try XCTSkipUnless(
            try run(["python3", "-c", "import kubernetes_validate"]).status == 0,
            "needs kubernetes-validate (scripts/setup installs it)")
        let (status, text) = try run(
            ["python3", "-m", "kubernetes_validate", "--strict"] + files.map { manifests.appendingPathComponent($0).path })
        XCTAssertEqual(status, 0, text)
        XCTAssertEqual(text.components(separatedBy: " passed for resource ").count - 1, 6, "six resources: \(text)")
        let kustomization = try String(contentsOf: manifests.appendingPathComponent("kustomization.yaml"), encoding: .utf8)
        for file in files { XCTAssertTrue(kustomization.contains("- \(file)"), "\(file) in kustomization.yaml") }
    }

    /// Runs `arguments` (through `env`, so found on PATH) and returns its status and its output.
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    /// `kubectl kustomize` renders the kustomization: every resource of the three files, the
    /// shared labels on each.
    func testTheKustomizationRenders() throws {
        try XCTSkipUnless(try run(["kubectl", "version", "--client"]).status == 0, "needs kubectl (scripts/setup installs it)")
        let rendered = try run(["kubectl", "kustomize", Self.repository.appendingPathComponent("deploy/kubernetes").path])
        XCTAssertEqual(rendered.status, 0, rendered.output)
        let kinds = rendered.output.split(separator: "\n").filter { $0.hasPrefix("kind: ") }.map { String($0.dropFirst(6)) }
        XCTAssertEqual(
            kinds.sorted(), ["Deployment", "HorizontalPodAutoscaler", "Service", "Service", "StatefulSet", "StatefulSet"])
        XCTAssertTrue(rendered.output.contains("EVY_HTTP"), "the roles serve /metrics")
    }

    /// `docker-compose config` (PyPI's, offline) accepts the compose file, with the three roles and
    /// a volume for each role that keeps state.
    func testTheComposeFileIsValid() throws {
        let compose = Self.repository.appendingPathComponent(".build-tools/docker-compose/bin/docker-compose").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: compose), "needs docker-compose (scripts/setup installs it)")
        let file = Self.repository.appendingPathComponent("deploy/compose/compose.yaml").path
        let quiet = try run([compose, "-f", file, "config", "-q"])
        XCTAssertEqual(quiet.status, 0, quiet.output)
        let services = try run([compose, "-f", file, "config", "--services"])
        XCTAssertEqual(Set(services.output.split(separator: "\n").map(String.init)), ["dispatcher", "collector", "worker"])
        let volumes = try run([compose, "-f", file, "config", "--volumes"])
        XCTAssertEqual(Set(volumes.output.split(separator: "\n").map(String.init)), ["dispatcher-data", "collector-data"])
    }

    /// The Dockerfile builds in Swift's image and runs in a slim Debian that installs, for every
    /// shared library the executables load (as `ldd` lists them for this build), the Debian package
    /// that provides it — a missing one would make the image start and die at once.
    func testTheDockerfileRuntimeStageHasEveryLibraryTheExecutablesLoad() throws {
        let dockerfile = try String(
            contentsOf: Self.repository.appendingPathComponent("deploy/docker/Dockerfile"), encoding: .utf8)
        let stages = dockerfile.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        XCTAssertEqual(stages.count, 2, "multi-stage: build, then run")
        XCTAssertTrue(stages.first?.hasPrefix("FROM swift:") == true && stages.first?.hasSuffix(" AS build") == true)
        XCTAssertTrue(dockerfile.contains("COPY --from=build /out/ /usr/local/bin/"))
        let runtime = String(dockerfile[dockerfile.range(of: String(stages[1]))!.upperBound...])
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        // Linked statically into the image's release build (--static-swift-stdlib), or libc's own.
        let provided = ["libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime", "libicu", "libc.so",
            "libm.so", "libpthread", "libdl.so", "librt.so", "ld-linux", "linux-vdso", "libgcc_s", "libstdc++", "libutil"]
        var packages: Set<String> = []
        for executable in ["evy-dispatcher", "evy-collector", "evy-worker", "evy"] {
            let path = binaries.appendingPathComponent(executable).path
            try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: path), "\(executable) is not built")
            // The libraries it names itself (their own dependencies come with their packages)…
            let headers = try run(["objdump", "-p", path])
            XCTAssertEqual(headers.status, 0, headers.output)
            let needed = Set(headers.output.split(separator: "\n").compactMap { line -> String? in
                let words = line.split(whereSeparator: \.isWhitespace)
                return words.count == 2 && words[0] == "NEEDED" ? String(words[1]) : nil
            })
            // …and where the loader finds them.
            let listed = try run(["ldd", path])
            XCTAssertEqual(listed.status, 0, listed.output)
            for line in listed.output.split(separator: "\n") {
                let parts = line.split(whereSeparator: \.isWhitespace)
                guard parts.count >= 3, parts[1] == "=>", needed.contains(String(parts[0])),
                    !provided.contains(where: { parts[0].hasPrefix($0) })
                else { continue }
                // Debian's merged /usr: a package lists its file under /lib or /usr/lib, ldd says either.
                let file = String(parts[2])
                let other = file.hasPrefix("/lib/") ? "/usr" + file : String(file.trimmingPrefix("/usr"))
                var owner = try run(["dpkg", "-S", file])
                if owner.status != 0 { owner = try run(["dpkg", "-S", other]) }
                // "libuv1:amd64: /lib/x86_64-linux-gnu/libuv.so.1" — the package is before the first ':'.
                guard owner.status == 0, let package = owner.output.split(separator: ":").first.map(String.init) else {
                    XCTFail("no package owns \(file): \(owner.output)")
                    continue
                }
                packages.insert(String(package))
            }
        }
        XCTAssertTrue(packages.isSuperset(of: ["libuv1", "libzmq5", "libsqlite3-0"]), "\(packages)")
        for package in packages {
            XCTAssertTrue(runtime.contains(" \(package) ") || runtime.contains(" \(package)\n"), "the runtime stage installs \(package)")
        }
    }
}
