import Evy
import EvyJobs
import EvyTestSupport
import Foundation
import Glibc
import XCTest

/// The executables as separate processes over tcp on loopback, as a user starts them: each
/// binds port 0 (`tcp://127.0.0.1:*`) and prints the endpoint it got, which the next one is given.
final class ProcessTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "evy-processes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func binary(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(name).path
    }

    /// Starts `command` and returns it with its first output line (the endpoints it bound).
    private static func start(_ command: [String]) async throws -> (ChildProcess, String) {
        let process = try ChildProcess(command, standardInput: .discard, standardOutput: .pipe, standardError: .inherit)
        let line = try await process.standardOutput!.buffered().readLine(timeout: .seconds(30)) ?? ""
        return (process, line)
    }

    /// The `tcp://…` endpoints in a start-up line, in order.
    private static func endpoints(in line: String) -> [String] {
        line.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init).filter { $0.hasPrefix("tcp://") }
    }

    func testDispatcherCollectorAndTwoWorkersAsProcesses() throws {
        let directory = self.directory
        let (dispatcherBinary, collectorBinary, workerBinary, exampleBinary) =
            (binary("evy-dispatcher"), binary("evy-collector"), binary("evy-worker"), binary("example-job-worker"))
        try green(deadline: .seconds(90)) {
            var processes: [ChildProcess] = []
            defer { for process in processes { try? process.kill(SIGKILL) } }
            let (dispatcher, dispatcherLine) = try await Self.start([
                dispatcherBinary, "--client-endpoint", "tcp://127.0.0.1:*", "--worker-endpoint", "tcp://127.0.0.1:*",
                "--data-dir", directory + "/dispatcher", "--heartbeat-ms", "200",
            ])
            processes.append(dispatcher)
            let dispatcherEndpoints = Self.endpoints(in: dispatcherLine)
            XCTAssertEqual(dispatcherEndpoints.count, 2, dispatcherLine)
            let (collector, collectorLine) = try await Self.start([
                collectorBinary, "--result-endpoint", "tcp://127.0.0.1:*", "--client-endpoint", "tcp://127.0.0.1:*",
                "--dispatcher", dispatcherEndpoints[1], "--data-dir", directory + "/collector",
            ])
            processes.append(collector)
            let collectorEndpoints = Self.endpoints(in: collectorLine)
            XCTAssertEqual(collectorEndpoints.count, 2, collectorLine)
            for _ in 0..<2 {
                let (worker, _) = try await Self.start([
                    workerBinary, "--dispatcher", dispatcherEndpoints[1], "--collector", collectorEndpoints[0],
                    "--handlers", "noop,sleep,fail", "--heartbeat-ms", "200",
                ])
                processes.append(worker)
            }
            let (example, _) = try await Self.start([exampleBinary, dispatcherEndpoints[1], collectorEndpoints[0]])
            processes.append(example)

            let client = try JobClient(dispatcher: dispatcherEndpoints[0], collector: collectorEndpoints[1])
            defer { client.close() }
            let ids = try await client.submitMany(
                (0..<300).map { index in
                    (index % 3 == 0 ? "sleep" : "noop", Array("1".utf8), JobOptions())
                })
            var outcomes = 0
            for try await outcome in client.outcomes(of: ids) {
                XCTAssertEqual(outcome.status, .succeeded)
                outcomes += 1
            }
            XCTAssertEqual(outcomes, 300)
            let words = try await client.submit("wordcount", payload: Array("one two three".utf8))
            let counted = try await client.wait(for: words, timeout: .seconds(20))
            XCTAssertEqual(counted.text, "3", "the example's own handler ran")

            // The client hears of an outcome from the collector before the dispatcher has its DONE:
            // ask until the dispatcher counts every job done, within a deadline.
            var status: [String: Any]?
            let deadline = ContinuousClock.now + .seconds(10)
            repeat {
                status =
                    try JSONSerialization.jsonObject(with: Data(try await client.query("status"))) as? [String: Any]
                if status?["done"] as? Int == 301 { break }  // each question is a round trip: no sleep needed
            } while ContinuousClock.now < deadline
            XCTAssertEqual(status?["done"] as? Int, 301)
            XCTAssertEqual((status?["workers"] as? [Any])?.count, 3)

            // SIGTERM: every role stops cleanly.
            for process in processes.reversed() {
                try process.kill(SIGTERM)
                let exit = try await process.wait(timeout: .seconds(20))
                XCTAssertEqual(exit, .exited(0), "\(process.pid)")
            }
            processes = []
        }
    }

    /// `evy keygen` makes the directories its names need; `evy status` against roles that do not
    /// answer says so on standard error and exits 1 within its timeout.
    func testKeygenMakesItsDirectoriesAndStatusSaysWhoDidNotAnswer() throws {
        let (directory, evy) = (self.directory, binary("evy"))
        try green(deadline: .seconds(60)) {
            let keygen = try ChildProcess(
                [evy, "keygen", directory + "/keys/new/worker"], standardInput: .discard, standardOutput: .pipe,
                standardError: .pipe)
            let made = try await keygen.communicate(timeout: .seconds(20))
            XCTAssertEqual(made.status, .exited(0), String(decoding: made.error, as: UTF8.self))
            for file in ["worker.key", "worker.pub"] {
                XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/keys/new/" + file), file)
            }
            // Listeners that never accept: the connections are made and nothing ever answers.
            let silent = try (0..<2).map { _ in try listen(on: SocketAddress(ip: "127.0.0.1", port: 0)) }
            defer { for socket in silent { socket.close() } }
            let ports = silent.map { $0.localAddress!.port }
            let status = try ChildProcess(
                [
                    evy, "status", "--dispatcher", "tcp://127.0.0.1:\(ports[0])", "--collector", "tcp://127.0.0.1:\(ports[1])",
                    "--timeout", "0.5",
                ], standardInput: .discard, standardOutput: .pipe, standardError: .pipe)
            let asked = try await status.communicate(timeout: .seconds(20))
            XCTAssertEqual(asked.status, .exited(1))
            XCTAssertEqual(String(decoding: asked.output, as: UTF8.self), "{\"dispatcher\": null, \"collector\": null}\n")
            let said = String(decoding: asked.error, as: UTF8.self)
            XCTAssertTrue(said.contains("the dispatcher did not answer") && said.contains("the collector did not answer"), said)
        }
    }
}
