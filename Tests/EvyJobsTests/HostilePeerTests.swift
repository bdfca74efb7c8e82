import Evy
import EvyJobs
import EvyTestSupport
import EvyZMQ
import Foundation
import Glibc
import XCTest

/// What a peer sends never crashes a role: unreadable frames and requests that do not fit get
/// ERROR and are counted, and the system goes on serving everyone else.
final class HostilePeerTests: XCTestCase {
    func testGarbageAndMisfitsAreAnsweredWithErrorsAndCounted() throws {
        let directory = NSTemporaryDirectory() + "evy-hostile-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let system = try EmbeddedSystem(
                directory: directory, workers: 1, heartbeat: .milliseconds(100),
                tune: { dispatcher, _ in
                    dispatcher.maxPayloadBytes = 1000
                }
            ) { worker in worker.handle("echo") { job in job.payload } }
            let peer = try ZMQSocket(.dealer)
            try peer.connect(system.dispatcher.boundClientEndpoint)
            func reply() async throws -> Message {
                try MessageCodec.decode(try await peer.receiveMultipart(timeout: .seconds(5)))
            }

            try await peer.sendMultipart([Array("garbage".utf8)])
            guard case .error(_, .malformed, _) = try await reply() else { return XCTFail("garbage is malformed") }
            try await peer.sendMultipart([Array("EVY2".utf8), [0x01], []])
            guard case .error(_, .unsupportedVersion, _) = try await reply() else { return XCTFail("another version") }
            var truncated = MessageCodec.encode(.cancel(request: 7, job: 1))
            truncated[2].removeLast()
            try await peer.sendMultipart(truncated)
            guard case .error(let request, .malformed, _) = try await reply() else { return XCTFail("truncated") }
            XCTAssertEqual(request, 7, "the error names the request it could read")
            try await peer.sendMultipart(
                MessageCodec.encode(
                    .submit(
                        request: 8, handler: "echo", options: JobOptions(), payload: [UInt8](repeating: 1, count: 1001))
                ))
            guard case .error(8, .tooLarge, _) = try await reply() else { return XCTFail("payload over the limit") }
            try await peer.sendMultipart(MessageCodec.encode(.credit(slots: 5)))
            guard case .error(_, .conflict, _) = try await reply() else {
                return XCTFail("a worker message from a client")
            }

            // A worker-side peer that never said READY.
            let stranger = try ZMQSocket(.dealer)
            try stranger.connect(system.dispatcher.boundWorkerEndpoint)
            try await stranger.sendMultipart(
                MessageCodec.encode(.failed(Lease(job: 1, attempt: 1), retryable: true, error: "x")))
            let answer = try MessageCodec.decode(try await stranger.receiveMultipart(timeout: .seconds(5)))
            guard case .error(_, .conflict, _) = answer else { return XCTFail("READY first") }

            XCTAssertEqual(system.dispatcher.counters.malformed, 3)
            let client = try system.client()
            let id = try await client.submit("echo", payload: Array("still here".utf8))
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.text, "still here", "everyone else is served as before")
            peer.close(linger: .zero)
            stranger.close(linger: .zero)
            client.close()
            await system.stop()
        }
    }

    /// A worker that claims more credit than a UInt32 holds (after READY with its slots) does not
    /// trap the dispatcher: credit saturates at the worker's slots, and jobs go on being served.
    func testAnOverflowingCreditIsClampedNotATrap() throws {
        let directory = NSTemporaryDirectory() + "evy-hostile-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let system = try EmbeddedSystem(directory: directory, workers: 1, heartbeat: .milliseconds(100)) { worker in
                worker.handle("echo") { job in job.payload }
            }
            let rogue = try ZMQSocket(.dealer)
            try rogue.connect(system.dispatcher.boundWorkerEndpoint)
            try await rogue.sendMultipart(
                MessageCodec.encode(
                    .ready(
                        Ready(
                            role: .worker, name: "rogue", host: "198.51.100.66", pid: 1, slots: 2,
                            heartbeatMilliseconds: 100, handlers: ["nothing"], held: []))))
            guard case .welcome = try MessageCodec.decode(try await rogue.receiveMultipart(timeout: .seconds(5))) else {
                return XCTFail("welcomed")
            }
            for _ in 0..<3 { try await rogue.sendMultipart(MessageCodec.encode(.credit(slots: UInt32.max))) }
            let client = try system.client()
            let id = try await client.submit("echo", payload: Array("served".utf8))
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.text, "served", "the dispatcher survived the credit and serves")
            let status = try JSONSerialization.jsonObject(with: Data(try await client.query("status"))) as? [String: Any]
            let rogueEntry = (status?["workers"] as? [[String: Any]])?.first { $0["name"] as? String == "rogue" }
            XCTAssertEqual(rogueEntry?["inFlight"] as? Int, 0, "credit clamped to its two slots")
            rogue.close(linger: .zero)
            client.close()
            await system.stop()
        }
    }

    /// A client that floods submits without waiting for answers gets "busy" for those beyond its
    /// limit of submits awaiting the journal; what was accepted is journaled and runs, and another
    /// client is served meanwhile.
    func testAFloodOfSubmitsIsAnsweredBusyBeyondTheClientsLimitAndOthersAreServed() throws {
        let directory = NSTemporaryDirectory() + "evy-flood-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let system = try EmbeddedSystem(
                directory: directory, workers: 1, heartbeat: .milliseconds(100),
                tune: { dispatcher, _ in dispatcher.maxPendingSubmitsPerClient = 50 }
            ) { worker in worker.handle("noop") { _ in [] } }
            let flooder = try ZMQSocket(.dealer)
            try flooder.connect(system.dispatcher.boundClientEndpoint)
            let count = 5000
            for request in 1...count {
                try await flooder.sendMultipart(
                    MessageCodec.encode(.submit(request: UInt64(request), handler: "noop", options: JobOptions(), payload: [])))
            }
            // A well-behaved client in the middle of the flood.
            let client = try system.client()
            let id = try await client.submit("noop")
            let outcome = try await client.wait(for: id, timeout: .seconds(20))
            XCTAssertEqual(outcome.status, .succeeded, "served during the flood")

            var accepted: [UInt64] = []
            var busy = 0
            for _ in 1...count {
                switch try MessageCodec.decode(try await flooder.receiveMultipart(timeout: .seconds(20))) {
                case .submitted(_, let job, _): accepted.append(job)
                case .error(_, .busy, _): busy += 1
                case let other: XCTFail("unexpected \(other)")
                }
            }
            XCTAssertEqual(accepted.count + busy, count, "every submit answered")
            XCTAssertGreaterThan(busy, 0, "the flood went past the limit")
            XCTAssertGreaterThan(accepted.count, 0)
            var done = 0
            for try await outcome in client.outcomes(of: accepted) where outcome.status == .succeeded { done += 1 }
            XCTAssertEqual(done, accepted.count, "what was accepted runs")
            flooder.close(linger: .zero)
            client.close()
            await system.stop()
        }
    }

    /// 10,000 TCP connections opened to the dispatcher (a separate process, as deployed) and left
    /// idle, never saying a word of ZMTP: a client connecting afterwards is answered at once.
    func testTenThousandIdleConnectionsDoNotKeepAClientWaiting() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        try XCTSkipIf(limit.rlim_cur < 10_500, "needs 10,500 file descriptors (ulimit -n)")
        let directory = NSTemporaryDirectory() + "evy-idle-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("evy-dispatcher").path
        try green(deadline: .seconds(120)) {
            let dispatcher = try ChildProcess(
                [binary, "--client-endpoint", "tcp://127.0.0.1:*", "--worker-endpoint", "tcp://127.0.0.1:*",
                 "--data-dir", directory],
                standardInput: .discard, standardOutput: .pipe, standardError: .discard)
            defer { try? dispatcher.kill(SIGKILL) }
            let line = try await dispatcher.standardOutput!.buffered().readLine(timeout: .seconds(30)) ?? ""
            let endpoints = line.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
                .filter { $0.hasPrefix("tcp://") }
            guard let clientEndpoint = endpoints.first, let port = clientEndpoint.split(separator: ":").last.flatMap({ Int($0) })
            else { return XCTFail("no endpoint in \(line)") }
            let address = try SocketAddress(ip: "127.0.0.1", port: port)
            let pool = GreenPool(size: 200)
            let opened = Box<[Socket]>([])
            for _ in 0..<10_000 {
                try await pool.spawn { opened.value.append(try await connect(to: address, timeout: .seconds(10))) }
            }
            try await pool.waitAll()
            defer { for socket in opened.value { socket.close() } }
            XCTAssertEqual(opened.value.count, 10_000)

            let client = try JobClient(dispatcher: clientEndpoint)
            client.timeout = .seconds(5)
            defer { client.close() }
            let status = try JSONSerialization.jsonObject(with: Data(try await client.query("status"))) as? [String: Any]
            XCTAssertNotNil(status?["submitted"], "answered at once with 10,000 idle connections open")
            let id = try await client.submit("parked")
            XCTAssertGreaterThan(id, 0, "and a submit is journaled")
        }
    }

    /// A peer on the collector's result endpoint sending results for jobs it was never given (no
    /// token, a wrong one): refused with ERROR, counted, not recorded; the job's real result still is.
    func testResultsForJobsNeverGivenAreRefusedAndCounted() throws {
        let directory = NSTemporaryDirectory() + "evy-forged-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let system = try EmbeddedSystem(directory: directory, workers: 1, heartbeat: .milliseconds(100)) { worker in
                worker.handle("slow") { job in
                    try await sleep(for: .milliseconds(300))
                    return job.payload
                }
            }
            let client = try system.client()
            let id = try await client.submit("slow", payload: Array("real".utf8))
            let forger = try ZMQSocket(.dealer)
            try forger.connect(system.collector.boundResultEndpoint)
            for token: UInt64 in [0, 0xDEAD_BEEF] {
                try await forger.sendMultipart(
                    MessageCodec.encode(
                        .result(
                            Lease(job: id, attempt: 1), handler: "slow", status: .succeeded, durationMicroseconds: 1,
                            payload: Array("forged".utf8), token: token)))
                guard case .error(_, .conflict, _) = try MessageCodec.decode(try await forger.receiveMultipart(timeout: .seconds(5)))
                else { return XCTFail("a forged result is refused") }
            }
            XCTAssertEqual(system.collector.forged, 2)
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.text, "real", "the job's own result is the one recorded")
            forger.close(linger: .zero)
            client.close()
            await system.stop()
        }
    }

    /// A peer waiting for more jobs than the collector keeps for one client is answered busy and
    /// costs nothing; its waits for jobs never given go after the wait lifetime; a client that
    /// waits for a real job meanwhile hears its outcome.
    func testWaitsBeyondAClientsBoundAreRefusedAndWaitsNobodyRenewsAreDropped() throws {
        let directory = NSTemporaryDirectory() + "evy-waits-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            let system = try EmbeddedSystem(
                directory: directory, workers: 1, heartbeat: .milliseconds(100),
                tune: { _, collector in
                    collector.maxWaitedJobsPerClient = 1000
                    collector.waitLifetime = .milliseconds(500)
                }
            ) { worker in worker.handle("noop") { _ in [] } }
            let hoarder = try ZMQSocket(.dealer)
            try hoarder.connect(system.collector.boundClientEndpoint)
            let never = (UInt64(1) << 40)...(UInt64(1) << 40 + 999)
            try await hoarder.sendMultipart(MessageCodec.encode(.wait(request: 1, jobs: Array(never))))
            try await hoarder.sendMultipart(MessageCodec.encode(.wait(request: 2, jobs: [1 << 41])))
            guard case .error(2, .busy, _) = try MessageCodec.decode(try await hoarder.receiveMultipart(timeout: .seconds(5)))
            else { return XCTFail("the 1,001st job waited for is refused busy") }
            XCTAssertEqual(Self.waitedFor(system.collector), 1000, "the refused WAIT added nothing")

            let client = try system.client()
            let id = try await client.submit("noop")
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.status, .succeeded, "another client is served")
            // Beyond its room the hoarder still hears of a job already recorded (it costs nothing to hold).
            try await hoarder.sendMultipart(MessageCodec.encode(.wait(request: 3, jobs: [id])))
            guard case .outcome(3, id, _, .succeeded, _, _) = try MessageCodec.decode(try await hoarder.receiveMultipart(timeout: .seconds(5)))
            else { return XCTFail("a recorded outcome is answered whatever the room") }
            try await waitUntil("the hoarder's waits expire", timeout: .seconds(10)) { Self.waitedFor(system.collector) == 0 }
            hoarder.close(linger: .zero)
            client.close()
            await system.stop()
        }
    }

    private static func waitedFor(_ collector: EvyJobs.Collector) -> Int {
        let state = try? JSONSerialization.jsonObject(with: Data(collector.stateJSON())) as? [String: Any]
        return state?["jobsWaitedFor"] as? Int ?? -1
    }
}
