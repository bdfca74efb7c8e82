import Evy
import EvyCrawler
import EvyHTTP
import EvyJobs
import EvyTestSupport
import Foundation
import Glibc
import XCTest

/// A crawl through the real executables over tcp, with a worker and then the collector killed
/// with SIGKILL mid-crawl and started again: the crawl finishes, every page is recorded exactly
/// once, and a page is fetched again only if it was in flight on the killed worker.
final class CrawlProcessTests: XCTestCase {
    private static func binary(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(name).path
    }

    /// `count` different ports free on loopback now, so a restarted role gets the same one. All
    /// are held open until each is read: one closed before the next is bound may be handed out again.
    private static func freePorts(_ count: Int) throws -> [Int] {
        let sockets = try (0..<count).map { _ in try listen(on: SocketAddress(ip: "127.0.0.1", port: 0)) }
        defer { for socket in sockets { socket.close() } }
        return sockets.map { $0.localAddress!.port }
    }

    /// Starts `command` and waits for its first output line (it prints its endpoints when bound).
    private static func start(_ command: [String]) async throws -> ChildProcess {
        let process = try ChildProcess(command, standardInput: .discard, standardOutput: .pipe, standardError: .inherit)
        guard try await process.standardOutput!.buffered().readLine(timeout: .seconds(30)) != nil else {
            throw ProcessStartFailure(command: command)
        }
        return process
    }

    /// A role that ended before printing its endpoints (its error is on standard error).
    private struct ProcessStartFailure: Error, CustomStringConvertible {
        let command: [String]
        var description: String { "\(command[0]) ended before it printed its endpoints" }
    }

    func testACrawlSurvivesAKilledWorkerAndAKilledCollector() throws {
        let directory = NSTemporaryDirectory() + "evy-crawl-processes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(120)) {
            // 300 pages, each linking to the next five (mod 300), 5 ms each.
            let hits = Box<[String: Int]>([:])
            var configuration = HTTPServer.Configuration()
            configuration.accessLog = false
            let server = HTTPServer(configuration: configuration) { request, _ in
                hits.value[request.path, default: 0] += 1
                guard request.path.hasPrefix("/p/"), let n = Int(request.path.dropFirst(3)) else {
                    return .text("", status: 404)
                }
                try await sleep(for: .milliseconds(5))
                let links = (1...5).map { "<a href=\"/p/\(($0 + n) % 300)\">x</a>" }.joined()
                return HTTPResponse(
                    headers: [("Content-Type", "text/html")], body: Array("<html><body>\(links)</body></html>".utf8))
            }
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
            spawnN { try await server.serve(listener) }
            let site = "http://127.0.0.1:\(listener.localAddress!.port)"

            let ports = try Self.freePorts(4)
            let (clients, workersEndpoint, results, readers) = (
                "tcp://127.0.0.1:\(ports[0])", "tcp://127.0.0.1:\(ports[1])", "tcp://127.0.0.1:\(ports[2])",
                "tcp://127.0.0.1:\(ports[3])"
            )
            let processes = Box<[ChildProcess]>([])
            defer { for process in processes.value { try? process.kill(SIGKILL) } }
            processes.value.append(
                try await Self.start([
                    Self.binary("evy-dispatcher"), "--client-endpoint", clients, "--worker-endpoint", workersEndpoint,
                    "--data-dir", directory + "/dispatcher", "--heartbeat-ms", "200",
                ]))
            let collectorCommand = [
                Self.binary("evy-collector"), "--result-endpoint", results, "--client-endpoint", readers,
                "--dispatcher", workersEndpoint, "--data-dir", directory + "/collector",
            ]
            let collector = try await Self.start(collectorCommand)
            processes.value.append(collector)
            let workerCommand = [
                Self.binary("evy-worker"), "--dispatcher", workersEndpoint, "--collector", results, "--handlers",
                "crawl.fetch", "--heartbeat-ms", "200", "--slots", "8",
            ]
            let doomed = try await Self.start(workerCommand)
            processes.value.append(doomed)
            processes.value.append(try await Self.start(workerCommand))

            let client = try JobClient(dispatcher: clients, collector: readers)
            client.outcomeRefresh = .milliseconds(500)
            defer { client.close() }
            var policy = CrawlPolicy()
            policy.maxDepth = 100
            let crawl = Crawl(client: client, id: "processes", seeds: [site + "/p/0"], policy: policy)
            crawl.perHost = 16
            let faults = Box(0)
            let kills = spawn {
                // Once 60 pages are done: SIGKILL a worker, start another.
                try await waitUntil("60 pages", timeout: .seconds(60)) { hits.value.count >= 60 }
                try doomed.kill(SIGKILL)
                processes.value.append(try await Self.start(workerCommand))
                faults.value += 1
                // Once 150 are done: SIGKILL the collector, keep it down a moment, start it again.
                try await waitUntil("150 pages", timeout: .seconds(60)) { hits.value.count >= 150 }
                try collector.kill(SIGKILL)
                _ = try await collector.wait(timeout: .seconds(10))
                processes.value.append(try await Self.start(collectorCommand))
                faults.value += 1
            }
            let summary = try await crawl.run()
            _ = try? await kills.wait()
            XCTAssertEqual(faults.value, 2, "both faults happened during the crawl")
            XCTAssertEqual(summary.statuses[200], 300, "every page")

            // Every page recorded exactly once, read back from the collector.
            var recorded: [String: Int] = [:]
            var after: UInt64 = 0
            while true {
                let page = try JSONSerialization.jsonObject(
                    with: Data(try await client.queryCollector("results", after: after, limit: 1000))) as! [String: Any]
                let items = page["results"] as! [[String: Any]]
                if items.isEmpty { break }
                for item in items where item["handler"] as? String == CrawlFetcher.handlerName {
                    let record = try JSONDecoder().decode(PageRecord.self, from: Data((item["result"] as! String).utf8))
                    recorded[record.url, default: 0] += 1
                }
                after = UInt64(page["next"] as! Int)
            }
            XCTAssertEqual(recorded.count, 300, "none lost")
            XCTAssertEqual(recorded.values.filter { $0 > 1 }.count, 0, "none recorded twice")
            let fetchedAgain = hits.value.filter { $0.key.hasPrefix("/p/") && $0.value > 1 }.count
            XCTAssertLessThanOrEqual(fetchedAgain, 8, "only what the killed worker had in flight (8 slots)")
            await server.stop()
        }
    }
}
