import Evy
import EvyJobs
import EvyTestSupport
import EvyZMQ
import XCTest

/// A worker that cannot start, or is stopped while it waits to reconnect, leaves nothing running.
final class WorkerStartTests: XCTestCase {
    /// The names of this hub's green threads serving a link to `endpoint`.
    private static func links(to endpoint: String) -> [String] {
        Hub.current.greenThreadSnapshots().compactMap(\.name).filter { $0.hasPrefix("link to \(endpoint)") }
    }

    func testAWorkerWhoseDispatcherCannotBeConnectedThrowsAndLeavesNoLinkRunning() throws {
        try green(deadline: .seconds(20)) {
            let collector = inproc()
            let worker = Worker(configuration: .init(dispatcher: "tcp://no-port-here", collector: collector))
            do {
                try await worker.run()
                XCTFail("an endpoint that cannot be connected is an error")
            } catch {}
            // A few turns of the hub: green threads spawned by then have started and parked.
            for _ in 0..<10 { try await sleep(for: .zero) }
            XCTAssertEqual(Self.links(to: collector), [], "the collector link made before the failure is closed")
        }
    }

    func testAWorkerStoppedWhileWaitingToReconnectDoesNotReconnect() throws {
        try green(deadline: .seconds(20)) {
            // A dispatcher that never answers: the worker finds it silent and waits to reconnect.
            let silent = try ZMQSocket(.router)
            defer { silent.close(linger: .zero) }
            let dispatcher = inproc()
            try silent.bind(dispatcher)
            var settings = Worker.Configuration(dispatcher: dispatcher, collector: inproc())
            settings.heartbeat = .milliseconds(20)
            let worker = Worker(configuration: settings)
            let run = spawn { try await worker.run() }
            try await waitUntil("the worker waits a second to reconnect", timeout: .seconds(10)) {
                Hub.current.greenThreadSnapshots().contains {
                    $0.name == "worker: heartbeats" && ($0.timesOutIn ?? .zero) > .milliseconds(200)
                }
            }
            worker.stop()
            try await run.wait()
            for _ in 0..<10 { try await sleep(for: .zero) }
            XCTAssertEqual(Self.links(to: dispatcher), [], "no link made after the worker stopped")
        }
    }
}
