import Evy
import EvyJobs
import EvyTestSupport
import Foundation
import XCTest

/// The protocol document is enough to write peers: a pyzmq worker and a pyzmq client written from
/// docs/protocol.md alone (workers/python) work with the Swift roles over tcp.
final class PythonPeerTests: XCTestCase {
    private let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("workers/python").path

    func testAPythonWorkerAndAPythonClient() throws {
        let directory = NSTemporaryDirectory() + "evy-python-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let scripts = self.scripts
        let (probe, _, _) = try green {
            try await ChildProcess.run(["python3", "-c", "import zmq"], timeout: .seconds(20))
        }
        guard probe.succeeded else {
            return XCTFail("pyzmq is not installed; scripts/setup installs it")
        }
        try green(deadline: .seconds(90)) {
            for path in ["/dispatcher", "/collector"] {
                try FileManager.default.createDirectory(atPath: directory + path, withIntermediateDirectories: true)
            }
            var settings = Dispatcher.Configuration(dataDirectory: directory + "/dispatcher")
            settings.clientEndpoint = "tcp://127.0.0.1:*"
            settings.workerEndpoint = "tcp://127.0.0.1:*"
            let dispatcher = try Dispatcher(configuration: settings)
            var collectorSettings = EvyJobs.Collector.Configuration(
                dispatcher: dispatcher.boundWorkerEndpoint, dataDirectory: directory + "/collector")
            collectorSettings.resultEndpoint = "tcp://127.0.0.1:*"
            collectorSettings.clientEndpoint = "tcp://127.0.0.1:*"
            let collector = try EvyJobs.Collector(configuration: collectorSettings)
            let worker = Worker(
                configuration: .init(
                    dispatcher: dispatcher.boundWorkerEndpoint, collector: collector.boundResultEndpoint))
            worker.handle("echo") { job in job.payload }
            let threads = [
                spawn { try await dispatcher.run() }, spawn { try await collector.run() },
                spawn { try await worker.run() },
            ]

            // The Python worker serves py-upper.
            let python = try ChildProcess(
                ["python3", scripts + "/worker.py", dispatcher.boundWorkerEndpoint, collector.boundResultEndpoint],
                workingDirectory: scripts, standardInput: .discard, standardOutput: .pipe, standardError: .inherit)
            defer { try? python.kill(SIGKILL) }
            let line = try await python.standardOutput!.buffered().readLine(timeout: .seconds(30))
            XCTAssertEqual(line, "ready")
            let client = try JobClient(
                dispatcher: dispatcher.boundClientEndpoint, collector: collector.boundClientEndpoint)
            let ids = try await client.submitMany((0..<20).map { ("py-upper", Array("word \($0)".utf8), JobOptions()) })
            var texts: [UInt64: String] = [:]
            for try await outcome in client.outcomes(of: ids) { texts[outcome.job] = outcome.text }
            for (index, id) in ids.enumerated() { XCTAssertEqual(texts[id], "WORD \(index)") }

            // The Python client submits to the Swift worker and reads the outcomes.
            let (status, output, errors) = try await ChildProcess.run(
                [
                    "python3", scripts + "/client.py", dispatcher.boundClientEndpoint, collector.boundClientEndpoint,
                    "echo",
                    "a", "b", "c",
                ], timeout: .seconds(30))
            XCTAssertEqual(status, .exited(0), errors.text)
            let lines = output.text.split(separator: "\n").map {
                $0.split(separator: " ").dropFirst().joined(separator: " ")
            }
            XCTAssertEqual(lines, ["0 a", "0 b", "0 c"], "status 0 (succeeded) and the echoed payload, in order")

            try python.kill(SIGTERM)
            _ = try await python.wait(timeout: .seconds(10))
            client.close()
            worker.stop()
            collector.stop()
            dispatcher.stop()
            for thread in threads { _ = try? await thread.wait() }
        }
    }
}
