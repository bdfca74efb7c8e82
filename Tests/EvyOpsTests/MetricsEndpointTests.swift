import Evy
import EvyHTTP
import EvyJobs
import EvyOps
import EvyTestSupport
import Foundation
import XCTest

/// `/metrics` on the dispatcher, the collector and a worker, scraped over HTTP and parsed: every counter
/// the issue names counts what really happened.
final class MetricsEndpointTests: XCTestCase {
    func testCountersGaugesAndHistogramsFollowTheJobs() throws {
        try withOps { ops in
            try await ops.run("echo", count: 20)
            try await ops.run("fail", count: 3)
            // Queued behind a busy worker pool: 2 workers × 4 slots of `block`, 5 more waiting.
            for _ in 0..<13 { try await ops.client.submit("block") }
            try await waitUntil("eight block jobs running", timeout: .seconds(10)) {
                ops.system.dispatcher.counters.leased >= 8 + 23
            }
            let dispatcher = try await ops.scrape(ops.dispatcherURL)
            XCTAssertEqual(dispatcher["evy_jobs_submitted_total", ["handler": "echo"]], 20)
            XCTAssertEqual(dispatcher["evy_jobs_submitted_total", ["handler": "fail"]], 3)
            XCTAssertEqual(dispatcher["evy_jobs_submitted_total", ["handler": "block"]], 13)
            XCTAssertEqual(dispatcher["evy_jobs_done_total", ["handler": "echo"]], 20)
            XCTAssertEqual(dispatcher["evy_jobs_failed_total", ["handler": "fail"]], 3)
            XCTAssertEqual(dispatcher["evy_jobs_dead_total", ["handler": "fail"]], 3)
            XCTAssertEqual(dispatcher["evy_queue_depth", ["handler": "block", "priority": "0"]], 5)
            XCTAssertEqual(dispatcher["evy_jobs_in_flight"], 8)
            XCTAssertEqual(dispatcher["evy_workers"], 2)
            XCTAssertEqual(dispatcher["evy_lease_expiries_total"], 0)
            XCTAssertEqual(dispatcher.types["evy_journal_commit_seconds"], "histogram")
            XCTAssertGreaterThan(dispatcher["evy_journal_commit_seconds_count", ["role": "dispatcher"]] ?? 0, 0)

            let collector = try await ops.scrape(ops.collectorURL)
            XCTAssertEqual(collector["evy_results_recorded_total", ["handler": "echo", "status": "succeeded"]], 20)
            XCTAssertEqual(collector["evy_results_recorded_total", ["handler": "fail", "status": "dead"]], 3)
            XCTAssertEqual(collector["evy_job_duration_seconds_count", ["handler": "echo"]], 20)
            XCTAssertEqual(collector.types["evy_job_duration_seconds"], "histogram")
            XCTAssertGreaterThan(collector["evy_journal_commit_seconds_count", ["role": "collector"]] ?? 0, 0)
        }
    }

    /// A worker's own `/metrics`: what it ran, by handler and ending, and its slots and jobs now.
    func testAWorkerCountsTheJobsItRanAndItsSlotsInUse() throws {
        try withOps(workers: 0) { ops in
            let metrics = PrometheusMetrics()
            let worker = ops.system.addWorker { $0.metrics = metrics.factory }
            let server = try OpsServer(
                address: ListenAddress("127.0.0.1:0"), metrics: metrics, beforeScrape: { worker.updateGauges() })
            let serving = spawn { try? await server.run() }
            defer { serving.cancel() }
            let url = "http://\(server.boundAddress)"
            try await ops.run("echo", count: 7)
            try await ops.run("fail", count: 2)
            var blocked: [UInt64] = []
            for _ in 0..<3 { blocked.append(try await ops.client.submit("block")) }
            try await waitUntilAsync("three jobs running and every result recorded", timeout: .seconds(10)) {
                let samples = try await ops.scrape(url)
                return samples["evy_worker_jobs_running"] == 3 && samples["evy_worker_results_unrecorded"] == 0
            }
            _ = try await ops.client.cancel(blocked[0])
            try await waitUntilAsync("the cancelled job counted as aborted", timeout: .seconds(10)) {
                try await ops.scrape(url)["evy_worker_jobs_aborted_total", ["handler": "block"]] == 1
            }
            let samples = try await ops.scrape(url)
            XCTAssertEqual(samples["evy_worker_jobs_succeeded_total", ["handler": "echo"]], 7)
            XCTAssertEqual(samples["evy_worker_jobs_failed_total", ["handler": "fail"]], 2)
            // Every handler's series is there from the start (a rate of a missing series is no rate).
            XCTAssertEqual(samples["evy_worker_jobs_succeeded_total", ["handler": "fail"]], 0)
            XCTAssertEqual(samples["evy_worker_jobs_aborted_total", ["handler": "echo"]], 0)
            XCTAssertEqual(samples["evy_worker_jobs_running"], 2)
            XCTAssertEqual(samples["evy_worker_slots"], 4)
            XCTAssertEqual(samples["evy_worker_credit_withheld"], 0)
            XCTAssertEqual(samples["evy_worker_reconnects_total"], 0)
            await server.stop()
        }
    }

    /// A worker killed with jobs in hand: its leases expire, the gauge of workers drops, and the
    /// counter of expiries says how many jobs had to run again.
    func testLeaseExpiriesAreCountedWhenAWorkerIsLost() throws {
        try withOps(workers: 1) { ops in
            for _ in 0..<3 { try await ops.client.submit("block") }
            try await waitUntil("three jobs leased", timeout: .seconds(10)) { ops.system.dispatcher.counters.leased == 3 }
            ops.system.workers[0].stop()
            try await waitUntil("the worker declared lost", timeout: .seconds(10)) { ops.system.dispatcher.counters.lost == 3 }
            let samples = try await ops.scrape(ops.dispatcherURL)
            XCTAssertEqual(samples["evy_lease_expiries_total"], 3)
            XCTAssertEqual(samples["evy_workers"], 0)
            XCTAssertEqual(samples["evy_queue_depth", ["handler": "block", "priority": "0"]], 3)
        }
    }

    /// Handler names come from clients: past the cap they share one series instead of growing the
    /// scrape without bound.
    func testHandlerLabelsAreBounded() throws {
        try withOps(workers: 0) { ops in
            for index in 0..<300 { try await ops.client.submit("handler-\(index)") }
            let samples = try await ops.scrape(ops.dispatcherURL)
            let series = samples.values.keys.filter { $0.hasPrefix("evy_jobs_submitted_total{") }
            XCTAssertLessThanOrEqual(series.count, 257)
            XCTAssertEqual(samples["evy_jobs_submitted_total", ["handler": "other"]], 300 - 256)
            let total = series.compactMap { samples.values[$0] }.reduce(0, +)
            XCTAssertEqual(total, 300, "every submit counted once")
        }
    }

    /// A queue that empties leaves the scrape instead of reading its last depth for ever.
    func testAnEmptiedQueueLeavesTheQueueDepthGauge() throws {
        try withOps(workers: 0) { ops in
            var jobs: [UInt64] = []
            for _ in 0..<3 { jobs.append(try await ops.client.submit("echo")) }
            let before = try await ops.scrape(ops.dispatcherURL)
            XCTAssertEqual(before["evy_queue_depth", ["handler": "echo", "priority": "0"]], 3)
            ops.system.addWorker()
            _ = try await ops.client.outcomes(of: jobs).collect()
            // Depths are read at most once a second.
            try await waitUntilAsync("the echo queue gone from the scrape", timeout: .seconds(5), every: .milliseconds(100)) {
                try await ops.scrape(ops.dispatcherURL)["evy_queue_depth", ["handler": "echo", "priority": "0"]] == nil
            }
        }
    }

    func testUnknownPathsAreNotFoundAndHealthAnswers() throws {
        try withOps(workers: 0) { ops in
            let missing = try await ops.http.get(ops.dispatcherURL + "/nothing")
            XCTAssertEqual(missing.status, 404)
            let health = try await ops.http.get(ops.dispatcherURL + "/healthz")
            XCTAssertEqual(health.text, "ok\n")
            // The dispatcher serves no dashboard.
            let page = try await ops.http.get(ops.dispatcherURL + "/")
            XCTAssertEqual(page.status, 404)
        }
    }
}
