import Evy
import EvyHTTP
import EvyJobs
import EvyOps
import EvyTestSupport
import Foundation
import XCTest

/// An embedded job system (inproc, one process) with the operator endpoints of a real deployment:
/// a metrics registry per role, the dispatcher's `/metrics` and the collector's `/metrics` plus
/// dashboard on loopback port 0. Workers serve `echo`, `fail` (never retried) and `block`.
final class OpsFixture: @unchecked Sendable {
    let system: EmbeddedSystem
    let client: JobClient
    let dispatcherMetrics = PrometheusMetrics()
    let collectorMetrics = PrometheusMetrics()
    let dispatcherHTTP: OpsServer
    let collectorHTTP: OpsServer
    let dashboard: Dashboard
    let http = HTTPClient()
    private var threads: [GreenThread<Void>] = []

    init(directory: String, workers: Int = 2, feedsState: String? = nil) throws {
        let (dispatcherFactory, collectorFactory) = (dispatcherMetrics.factory, collectorMetrics.factory)
        system = try EmbeddedSystem(
            directory: directory, workers: workers, slots: 4, heartbeat: .milliseconds(100),
            tune: { dispatcher, collector in
                dispatcher.metrics = dispatcherFactory
                dispatcher.retryDelay = .milliseconds(10)
                collector.metrics = collectorFactory
            }
        ) { worker in
            worker.handle("echo") { job in job.payload }
            worker.handle("fail") { _ in throw JobFailure("asked to fail", retryable: false) }
            worker.handle("block") { _ in
                try await sleep(for: .seconds(3600))
                return []
            }
        }
        client = try system.client()
        let dispatcher = system.dispatcher
        dispatcherHTTP = try OpsServer(
            address: ListenAddress("127.0.0.1:0"), metrics: dispatcherMetrics,
            beforeScrape: { dispatcher.updateGauges() })
        var board = Dashboard.Configuration(dispatcher: dispatcher.boundClientEndpoint)
        board.refresh = .milliseconds(200)
        board.feedsState = feedsState
        dashboard = Dashboard(collector: system.collector, configuration: board)
        dashboard.start()
        collectorHTTP = try OpsServer(address: ListenAddress("127.0.0.1:0"), metrics: collectorMetrics, dashboard: dashboard)
        for server in [dispatcherHTTP, collectorHTTP] { threads.append(spawn { try? await server.run() }) }
    }

    /// The collector's HTTP base URL (`http://127.0.0.1:PORT`).
    var collectorURL: String { "http://\(collectorHTTP.boundAddress)" }
    var dispatcherURL: String { "http://\(dispatcherHTTP.boundAddress)" }

    /// Scrapes `url`/metrics and parses it.
    func scrape(_ base: String) async throws -> PrometheusSamples {
        let response = try await http.get(base + "/metrics")
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusSamples(response.text)
    }

    /// Submits `count` jobs of `handler` and waits for every outcome.
    @discardableResult
    func run(_ handler: String, count: Int) async throws -> [JobOutcome] {
        var jobs: [UInt64] = []
        for index in 0..<count { jobs.append(try await client.submit(handler, payload: Array("\(index)".utf8))) }
        return try await client.outcomes(of: jobs).collect()
    }

    func stop() async {
        await dispatcherHTTP.stop()
        await collectorHTTP.stop()
        dashboard.close()
        for thread in threads { thread.cancel() }
        client.close()
        await system.stop()
    }
}

/// Runs `body` with a fresh ``OpsFixture`` in a temporary directory, stopped afterwards.
func withOps(
    workers: Int = 2, feedsState: String? = nil, deadline: Duration = .seconds(60),
    _ body: @escaping @Sendable (OpsFixture) async throws -> Void
) throws {
    let directory = NSTemporaryDirectory() + "evy-ops-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try green(deadline: deadline) {
        let fixture = try OpsFixture(directory: directory, workers: workers, feedsState: feedsState)
        do {
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }
}

/// Prometheus' text exposition format, parsed strictly enough to fail on a malformed line: each
/// sample as `name{label="value",…}` → value, and each family's `# TYPE`.
struct PrometheusSamples {
    struct Malformed: Error, CustomStringConvertible {
        let line: String
        var description: String { "not a Prometheus sample line: \(line)" }
    }

    private(set) var values: [String: Double] = [:]
    private(set) var types: [String: String] = [:]

    init(_ text: String) throws {
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4 else { throw Malformed(line: line) }
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw Malformed(line: line)
            }
            let series = String(line[..<space])
            let name = series.prefix { $0 != "{" }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else {
                throw Malformed(line: line)
            }
            if series.contains("{") && !series.hasSuffix("}") { throw Malformed(line: line) }
            values[series] = value
        }
    }

    /// The value of `name` with exactly `labels` (in the order the registry writes them).
    subscript(_ name: String, _ labels: KeyValuePairs<String, String> = [:]) -> Double? {
        let text = labels.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
        return values[labels.isEmpty ? name : "\(name){\(text)}"]
    }
}
