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
            var settings = try TCPRoles.dispatcher(directory)
            let first = try Dispatcher(configuration: settings)
            // The second life binds the very endpoints the first one got.
            settings.clientEndpoint = first.boundClientEndpoint
            settings.workerEndpoint = first.boundWorkerEndpoint
            let firstRun = spawn { try await first.run() }

            let collector = try EvyJobs.Collector(
                configuration: TCPRoles.collector(directory, dispatcher: first.boundWorkerEndpoint))
            let collectorRun = spawn { try await collector.run() }
            let worker = TCPRoles.echoWorker(
                dispatcher: first.boundWorkerEndpoint, collector: collector.boundResultEndpoint)
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

    /// The collector down while jobs run: workers keep the results and send them again once it is
    /// back; every job is recorded exactly once and the dispatcher counts each done.
    func testResultsWaitInTheWorkersWhileTheCollectorIsDown() throws {
        let directory = NSTemporaryDirectory() + "evy-collector-down-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let settings = try TCPRoles.dispatcher(directory)
            let dispatcher = try Dispatcher(configuration: settings)
            let dispatcherRun = spawn { try await dispatcher.run() }
            var collectorSettings = try TCPRoles.collector(directory, dispatcher: dispatcher.boundWorkerEndpoint)
            let first = try EvyJobs.Collector(configuration: collectorSettings)
            collectorSettings.resultEndpoint = first.boundResultEndpoint
            collectorSettings.clientEndpoint = first.boundClientEndpoint
            var firstRun = spawn { try await first.run() }
            let worker = TCPRoles.echoWorker(
                dispatcher: dispatcher.boundWorkerEndpoint, collector: first.boundResultEndpoint)
            let workerRun = spawn { try await worker.run() }
            let client = try JobClient(dispatcher: dispatcher.boundClientEndpoint, collector: first.boundClientEndpoint)

            first.stop()
            _ = try? await firstRun.wait()
            let ids = try await client.submitMany((0..<100).map { ("echo", Array("\($0)".utf8), JobOptions()) })
            try await waitUntil("every job ran, its result kept by the worker") { worker.completed == 100 }

            let second = try EvyJobs.Collector(configuration: collectorSettings)
            firstRun = spawn { try await second.run() }
            var outcomes: [UInt64: String] = [:]
            for try await outcome in client.outcomes(of: ids) {
                XCTAssertNil(outcomes[outcome.job], "one outcome per job")
                outcomes[outcome.job] = outcome.text
            }
            XCTAssertEqual(outcomes.count, 100, "nothing lost")
            XCTAssertEqual(second.recorded, 100)
            try await waitUntil("the dispatcher counts every job done") { dispatcher.counters.done == 100 }
            XCTAssertEqual(worker.completed, 100, "no job ran twice")

            client.close()
            worker.stop()
            second.stop()
            dispatcher.stop()
            for thread in [workerRun, firstRun, dispatcherRun] { _ = try? await thread.wait() }
        }
    }
}
