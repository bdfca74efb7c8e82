import Evy
import EvyJobs
import EvyTestSupport
import EvyZMQ
import Foundation
import Glibc
import XCTest

/// CURVE on every link: with keys configured, the allowed roles work as before; a worker with an
/// unknown key and a client with no keys never get through (refused in the handshake, counted).
final class CurveTests: XCTestCase {
    func testOnlyAllowedKeysGetThroughAndTheyWorkAsBefore() throws {
        try XCTSkipUnless(ZMQCurve.isAvailable, "libzmq without CURVE")
        let directory = NSTemporaryDirectory() + "evy-curve-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try green(deadline: .seconds(60)) {
            // Key files as `evy keygen` writes them; the allow-list is a directory of .pub files.
            var pairs: [String: ZMQCurve.KeyPair] = [:]
            for name in ["dispatcher", "collector", "worker", "client", "stranger"] {
                pairs[name] = try JobKeys.generate(at: directory + "/" + name)
            }
            XCTAssertEqual(try JobKeys.keyPair(at: directory + "/worker.key"), pairs["worker"])
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/worker.key")
            XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600, "the secret is its owner's")
            try FileManager.default.createDirectory(atPath: directory + "/allowed", withIntermediateDirectories: true)
            for name in ["collector", "worker", "client"] {
                try FileManager.default.copyItem(atPath: directory + "/\(name).pub", toPath: directory + "/allowed/\(name).pub")
            }
            let allowed = try JobKeys.publicKeys(in: directory + "/allowed")
            XCTAssertEqual(allowed.count, 3)
            let dispatcherKey = try JobKeys.publicKey(at: directory + "/dispatcher.pub")
            let collectorKey = try JobKeys.publicKey(at: directory + "/collector.pub")
            func keys(_ name: String) -> JobKeys {
                JobKeys(own: pairs[name]!, dispatcher: dispatcherKey, collector: collectorKey, allowed: allowed)
            }

            var dispatcherSettings = try TCPRoles.dispatcher(directory)
            dispatcherSettings.keys = keys("dispatcher")
            let dispatcher = try Dispatcher(configuration: dispatcherSettings)
            let dispatcherRun = spawn { try await dispatcher.run() }
            var collectorSettings = try TCPRoles.collector(directory, dispatcher: dispatcher.boundWorkerEndpoint)
            collectorSettings.keys = keys("collector")
            let collector = try EvyJobs.Collector(configuration: collectorSettings)
            let collectorRun = spawn { try await collector.run() }
            func worker(_ name: String?) -> Worker {
                var settings = Worker.Configuration(
                    dispatcher: dispatcher.boundWorkerEndpoint, collector: collector.boundResultEndpoint)
                settings.heartbeat = .milliseconds(100)
                settings.name = name ?? "keyless"
                settings.keys = name.map(keys)
                let worker = Worker(configuration: settings)
                worker.handle("echo") { job in job.payload }
                return worker
            }
            var runs: [GreenThread<Void>] = []
            let good = worker("worker")
            runs.append(spawn { try await good.run() })
            let client = try JobClient(
                dispatcher: dispatcher.boundClientEndpoint, collector: collector.boundClientEndpoint, keys: keys("client"))
            defer { client.close() }
            let id = try await client.submit("echo", payload: Array("secret".utf8))
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.text, "secret", "allowed roles work over CURVE")

            // A worker with a key nobody allowed, and one with no keys at all.
            let refusedBefore = ZAPService.counts.refused
            let stranger = worker("stranger")
            runs.append(spawn { try await stranger.run() })
            let keyless = worker(nil)
            runs.append(spawn { try await keyless.run() })
            try await waitUntil("the stranger refused in its handshakes", timeout: .seconds(10)) {
                ZAPService.counts.refused > refusedBefore
            }
            let jobs = try await client.submitMany((0..<20).map { _ in ("echo", Array("x".utf8), JobOptions()) })
            var done = 0
            for try await _ in client.outcomes(of: jobs) { done += 1 }
            XCTAssertEqual(done, 20)
            let status = try JSONSerialization.jsonObject(with: Data(try await client.query("status"))) as? [String: Any]
            let names = (status?["workers"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
            XCTAssertEqual(names, ["worker"], "only the allowed worker ever joined")

            // A client without keys gets no answer from a secured dispatcher.
            let plain = try JobClient(dispatcher: dispatcher.boundClientEndpoint)
            plain.timeout = .milliseconds(500)
            defer { plain.close() }
            do {
                _ = try await plain.submit("echo")
                XCTFail("a client without keys was answered")
            } catch JobClientError.noAnswer {}
            // A client whose key is refused: its questions end in its timeout (a DEALER whose only
            // peer refused the handshake waits in send for one; the send was not timed).
            let refusedClient = try JobClient(
                dispatcher: dispatcher.boundClientEndpoint, collector: collector.boundClientEndpoint, keys: keys("stranger"))
            refusedClient.timeout = .milliseconds(500)
            defer { refusedClient.close() }
            for role in ["dispatcher", "collector"] {
                do {
                    _ = try await withTimeout(.seconds(10), label: "a refused client's question to the \(role)") {
                        role == "dispatcher"
                            ? try await refusedClient.query("status") : try await refusedClient.queryCollector("status")
                    }
                    XCTFail("a refused client was answered by the \(role)")
                } catch JobClientError.noAnswer {}
            }
            do {
                _ = try await withTimeout(.seconds(10), label: "a refused client's submits") {
                    try await refusedClient.submitMany((0..<3).map { _ in ("echo", [], JobOptions()) })
                }
                XCTFail("a refused client's submits were taken")
            } catch JobClientError.noAnswer {}
            for worker in [stranger, keyless, good] { worker.stop() }
            for run in runs { _ = try? await run.wait() }  // their sockets closed: nothing left reconnecting
            collector.stop()
            dispatcher.stop()
            _ = try? await collectorRun.wait()
            _ = try? await dispatcherRun.wait()
            await ZAPService.stop()
        }
    }

    /// A worker process whose key is not allowed says so in its log (it used to wait in silence),
    /// once, not at every attempt libzmq makes.
    func testAWorkerWhoseKeyIsRefusedSaysSo() throws {
        try XCTSkipUnless(ZMQCurve.isAvailable, "libzmq without CURVE")
        let directory = NSTemporaryDirectory() + "evy-curve-refused-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/allowed", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("evy-worker").path
        try green(deadline: .seconds(60)) {
            var pairs: [String: ZMQCurve.KeyPair] = [:]
            for name in ["dispatcher", "collector", "stranger"] { pairs[name] = try JobKeys.generate(at: directory + "/" + name) }
            try FileManager.default.copyItem(atPath: directory + "/collector.pub", toPath: directory + "/allowed/collector.pub")
            let allowed = try JobKeys.publicKeys(in: directory + "/allowed")
            let (dispatcherKey, collectorKey) = (pairs["dispatcher"]!.publicKey, pairs["collector"]!.publicKey)
            var dispatcherSettings = try TCPRoles.dispatcher(directory)
            dispatcherSettings.keys = JobKeys(own: pairs["dispatcher"]!, dispatcher: dispatcherKey, collector: collectorKey, allowed: allowed)
            let dispatcher = try Dispatcher(configuration: dispatcherSettings)
            let dispatcherRun = spawn { try await dispatcher.run() }
            var collectorSettings = try TCPRoles.collector(directory, dispatcher: dispatcher.boundWorkerEndpoint)
            collectorSettings.keys = JobKeys(own: pairs["collector"]!, dispatcher: dispatcherKey, collector: collectorKey, allowed: allowed)
            let collector = try EvyJobs.Collector(configuration: collectorSettings)
            let collectorRun = spawn { try await collector.run() }

            let worker = try ChildProcess(
                [
                    binary, "--dispatcher", dispatcher.boundWorkerEndpoint, "--collector", collector.boundResultEndpoint,
                    "--curve-key", directory + "/stranger.key", "--dispatcher-key", directory + "/dispatcher.pub",
                    "--collector-key", directory + "/collector.pub",
                ], standardInput: .discard, standardOutput: .discard, standardError: .pipe)
            defer { try? worker.kill(SIGKILL) }
            let log = worker.standardError!.buffered()
            var refusals: [String] = []
            // Both links (dispatcher and collector) are refused: one line each, then one a minute.
            while refusals.count < 2, let line = try await log.readLine(timeout: .seconds(20)) {
                if line.contains("refused the handshake") { refusals.append(line) }
            }
            // The first two lines name both links: neither link repeats itself at libzmq's retries.
            XCTAssertEqual(refusals.count, 2, "each refused link is reported")
            XCTAssertTrue(refusals.contains { $0.contains(dispatcher.boundWorkerEndpoint) }, "\(refusals)")
            XCTAssertTrue(refusals.contains { $0.contains(collector.boundResultEndpoint) }, "\(refusals)")
            collector.stop()
            dispatcher.stop()
            _ = try? await collectorRun.wait()
            _ = try? await dispatcherRun.wait()
            await ZAPService.stop()
        }
    }

    /// On the wire: a job's payload and result cross loopback in the clear without keys, and
    /// not at all readable with them (tcpdump capturing the roles' ports, as an attacker would).
    func testWithKeysNothingOfAJobIsReadableOnTheWire() throws {
        try XCTSkipUnless(ZMQCurve.isAvailable, "libzmq without CURVE")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump") && getuid() == 0,
            "needs tcpdump and root (scripts/setup installs it)")
        let directory = NSTemporaryDirectory() + "evy-wire-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secret = "EVY-WIRE-SECRET-\(UUID().uuidString)"
        try green(deadline: .seconds(90)) {
            let pairs = try (0..<4).map { _ in try ZMQCurve.generateKeyPair() }  // dispatcher, collector, worker, client
            for secured in [false, true] {
                let allowed = Set(pairs.map(\.publicKey))
                func keys(_ index: Int) -> JobKeys? {
                    secured
                        ? JobKeys(own: pairs[index], dispatcher: pairs[0].publicKey, collector: pairs[1].publicKey, allowed: allowed)
                        : nil
                }
                let run = directory + "/\(secured)"
                var dispatcherSettings = try TCPRoles.dispatcher(run)
                dispatcherSettings.keys = keys(0)
                let dispatcher = try Dispatcher(configuration: dispatcherSettings)
                let dispatcherRun = spawn { try await dispatcher.run() }
                var collectorSettings = try TCPRoles.collector(run, dispatcher: dispatcher.boundWorkerEndpoint)
                collectorSettings.keys = keys(1)
                let collector = try EvyJobs.Collector(configuration: collectorSettings)
                let collectorRun = spawn { try await collector.run() }
                let ports = [
                    dispatcher.boundClientEndpoint, dispatcher.boundWorkerEndpoint, collector.boundResultEndpoint,
                    collector.boundClientEndpoint,
                ].compactMap { $0.split(separator: ":").last.map(String.init) }
                let capture = run + "/wire.pcap"
                let tcpdump = try ChildProcess(
                    ["/usr/bin/tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-w", capture]
                        + ports.enumerated().flatMap { $0.offset == 0 ? ["tcp", "port", $0.element] : ["or", "tcp", "port", $0.element] },
                    standardInput: .discard, standardOutput: .discard, standardError: .discard)
                // Capturing once a probe connection to the dispatcher shows up in the file.
                let probePort = Int(ports[0])!
                try await waitUntilAsync("tcpdump capturing", timeout: .seconds(20)) {
                    let probe = try await connect(to: SocketAddress(ip: "127.0.0.1", port: probePort))
                    probe.close()
                    let size = (try? FileManager.default.attributesOfItem(atPath: capture)[.size] as? Int) ?? 0
                    return size > 24
                }

                var workerSettings = Worker.Configuration(
                    dispatcher: dispatcher.boundWorkerEndpoint, collector: collector.boundResultEndpoint)
                workerSettings.heartbeat = .milliseconds(100)
                workerSettings.keys = keys(2)
                let worker = Worker(configuration: workerSettings)
                worker.handle("echo") { job in Array("result of ".utf8) + job.payload }
                let workerRun = spawn { try await worker.run() }
                let client = try JobClient(
                    dispatcher: dispatcher.boundClientEndpoint, collector: collector.boundClientEndpoint, keys: keys(3))
                let id = try await client.submit("echo", payload: Array(secret.utf8))
                let outcome = try await client.wait(for: id, timeout: .seconds(10))
                XCTAssertEqual(outcome.text, "result of " + secret)

                try tcpdump.kill(SIGINT)
                _ = try await tcpdump.wait(timeout: .seconds(10))
                let bytes = try Data(contentsOf: URL(fileURLWithPath: capture))
                let found = bytes.range(of: Data(secret.utf8)) != nil
                let handler = bytes.range(of: Data("echo".utf8)) != nil
                if secured {
                    XCTAssertFalse(found, "with keys the payload is not on the wire")
                    XCTAssertFalse(handler, "nor the handler's name")
                } else {
                    XCTAssertTrue(found, "without keys it is (the capture works)")
                }
                client.close()
                worker.stop()
                _ = try? await workerRun.wait()
                collector.stop()
                dispatcher.stop()
                _ = try? await collectorRun.wait()
                _ = try? await dispatcherRun.wait()
            }
            await ZAPService.stop()
        }
    }
}
