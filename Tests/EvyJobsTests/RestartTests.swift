import Evy
import EvyJobs
import EvyTestSupport
import Foundation
import XCTest

/// A dispatcher restarted on the same endpoints and data: the workers and the collector that
/// were connected introduce themselves again by themselves, and work goes on.
final class RestartTests: XCTestCase {
    func testWorkersAndCollectorReconnectAfterADispatcherRestart() throws {
        let directory = NSTemporaryDirectory() + "evy-restart-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            for path in ["/dispatcher", "/collector"] {
                try FileManager.default.createDirectory(atPath: directory + path, withIntermediateDirectories: true)
            }
            var settings = Dispatcher.Configuration(dataDirectory: directory + "/dispatcher")
            settings.clientEndpoint = "tcp://127.0.0.1:*"
            settings.workerEndpoint = "tcp://127.0.0.1:*"
            settings.heartbeat = .milliseconds(100)
            let first = try Dispatcher(configuration: settings)
            // The second life binds the very endpoints the first one got.
            settings.clientEndpoint = first.boundClientEndpoint
            settings.workerEndpoint = first.boundWorkerEndpoint
            let firstRun = spawn { try await first.run() }

            var collectorSettings = EvyJobs.Collector.Configuration(
                dispatcher: first.boundWorkerEndpoint, dataDirectory: directory + "/collector")
            collectorSettings.resultEndpoint = "tcp://127.0.0.1:*"
            collectorSettings.clientEndpoint = "tcp://127.0.0.1:*"
            collectorSettings.heartbeat = .milliseconds(100)
            let collector = try EvyJobs.Collector(configuration: collectorSettings)
            let collectorRun = spawn { try await collector.run() }
            var workerSettings = Worker.Configuration(
                dispatcher: first.boundWorkerEndpoint, collector: collector.boundResultEndpoint)
            workerSettings.heartbeat = .milliseconds(100)
            let worker = Worker(configuration: workerSettings)
            worker.handle("echo") { job in job.payload }
            let workerRun = spawn { try await worker.run() }

            let client = try JobClient(dispatcher: first.boundClientEndpoint, collector: collector.boundClientEndpoint)
            let before = try await client.submit("echo", payload: Array("before".utf8))
            let beforeOutcome = try await client.wait(for: before, timeout: .seconds(10))
            XCTAssertEqual(beforeOutcome.text, "before")

            first.stop()
            _ = try? await firstRun.wait()
            let second = try Dispatcher(configuration: settings)
            let secondRun = spawn { try await second.run() }

            let after = try await client.submit("echo", payload: Array("after".utf8))
            let afterOutcome = try await client.wait(for: after, timeout: .seconds(15))
            XCTAssertEqual(afterOutcome.text, "after", "the worker came back to the new dispatcher")
            XCTAssertNotEqual(after, before, "job ids go on from the journal")
            XCTAssertEqual(collector.recorded, 2)

            client.close()
            worker.stop()
            collector.stop()
            second.stop()
            for thread in [workerRun, collectorRun, secondRun] { _ = try? await thread.wait() }
        }
    }
}
