import Evy
import EvyJobs
import EvyTestSupport
import EvyZMQ
import Foundation
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
            let good = worker("worker")
            spawnN { try await good.run() }
            let client = try JobClient(
                dispatcher: dispatcher.boundClientEndpoint, collector: collector.boundClientEndpoint, keys: keys("client"))
            defer { client.close() }
            let id = try await client.submit("echo", payload: Array("secret".utf8))
            let outcome = try await client.wait(for: id, timeout: .seconds(10))
            XCTAssertEqual(outcome.text, "secret", "allowed roles work over CURVE")

            // A worker with a key nobody allowed, and one with no keys at all.
            let refusedBefore = ZAPService.counts.refused
            let stranger = worker("stranger")
            spawnN { try await stranger.run() }
            let keyless = worker(nil)
            spawnN { try await keyless.run() }
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
            for worker in [stranger, keyless, good] { worker.stop() }
            collector.stop()
            dispatcher.stop()
            _ = try? await collectorRun.wait()
            _ = try? await dispatcherRun.wait()
            await ZAPService.stop()
        }
    }
}
