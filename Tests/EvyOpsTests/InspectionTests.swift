import Evy
import EvyOps
import EvyTestSupport
import Foundation
import XCTest

/// The inspection console: what a running process shows of its hub, green threads and pools,
/// asked over a real socket as `evy inspect` asks.
final class InspectionTests: XCTestCase {
    func testShowsGreenThreadsWithWhatTheyWaitOnAndPools() throws {
        try green {
            let queue = Queue<Int>()
            let pool = GreenPool(size: 3, name: "fetchers")
            let consumer = spawn(name: "consumer") { _ = try await queue.get() }
            for index in 0..<2 { try await pool.spawnN(name: "fetch \(index)") { try? await sleep(for: .seconds(30)) } }
            let endpoint = try InspectionEndpoint(
                address: ListenAddress("127.0.0.1:0"),
                role: RoleInspection(role: "test", state: { Array(#"{"inFlight": 7}"#.utf8) }))
            let serving = spawn { try? await endpoint.run() }
            defer {
                endpoint.stop()
                serving.cancel()
                consumer.cancel()
            }
            try await waitUntil("the consumer parked") { Hub.current.greenThreadSnapshots().contains { $0.name == "consumer" && $0.waitingOn != nil } }

            let all = try object(try await InspectionClient.ask(endpoint.boundAddress, "all"))
            XCTAssertEqual(all["role"] as? String, "test")
            XCTAssertEqual((all["state"] as? [String: Any])?["inFlight"] as? Int, 7)
            let threads = try XCTUnwrap(all["threads"] as? [[String: Any]])
            let consumerEntry = try XCTUnwrap(threads.first { $0["name"] as? String == "consumer" })
            XCTAssertEqual(consumerEntry["waitingOn"] as? String, "queue get")
            let fetchers = threads.filter { ($0["name"] as? String)?.hasPrefix("fetch ") == true }
            XCTAssertEqual(fetchers.count, 2)
            XCTAssertEqual(Set(fetchers.compactMap { $0["waitingOn"] as? String }), ["sleep"])
            XCTAssertEqual(Set(fetchers.compactMap { $0["pool"] as? String }), ["fetchers"])
            XCTAssertTrue(fetchers.allSatisfy { ($0["timesOutInMs"] as? Double ?? 0) > 20_000 }, "\(fetchers)")
            let pools = try XCTUnwrap(all["pools"] as? [[String: Any]])
            let fetcherPool = try XCTUnwrap(pools.first { $0["name"] as? String == "fetchers" })
            XCTAssertEqual(fetcherPool["size"] as? Int, 3)
            XCTAssertEqual(fetcherPool["inUse"] as? Int, 2)
            XCTAssertEqual(fetcherPool["free"] as? Int, 1)
            let hub = try XCTUnwrap(all["hub"] as? [String: Any])
            XCTAssertGreaterThan(hub["jobsRun"] as? Int ?? 0, 0)
            XCTAssertGreaterThan(hub["greenThreads"] as? Int ?? 0, 3)

            let text = InspectionClient.report(try await InspectionClient.ask(endpoint.boundAddress, ""))
            XCTAssertTrue(text.contains("consumer: waiting on queue get"), text)
            XCTAssertTrue(text.contains("GreenPool fetchers: size 3, in use 2, free 1, waiting 0"), text)
            _ = pool
        }
    }

    func testActionsAreRefusedUnlessAllowed() throws {
        try green {
            let drained = Box(0)
            let role = RoleInspection(
                role: "worker", state: { Array("{}".utf8) },
                actions: ["drain": ("stop taking jobs", { _ in
                    drained.value += 1
                    return "draining"
                })])
            let readOnly = try InspectionEndpoint(address: ListenAddress("127.0.0.1:0"), role: role)
            let writable = try InspectionEndpoint(address: ListenAddress("127.0.0.1:0"), role: role, allowActions: true)
            let threads = [spawn { try? await readOnly.run() }, spawn { try? await writable.run() }]
            defer {
                readOnly.stop()
                writable.stop()
                for thread in threads { thread.cancel() }
            }
            let refused = try object(try await InspectionClient.ask(readOnly.boundAddress, "drain"))
            XCTAssertNotNil(refused["error"])
            let refusedDetector = try object(try await InspectionClient.ask(readOnly.boundAddress, "detect-blocking 50"))
            XCTAssertNotNil(refusedDetector["error"])
            XCTAssertEqual(drained.value, 0)
            XCTAssertNil(Hub.current.statistics().blockingThreshold)

            let done = try object(try await InspectionClient.ask(writable.boundAddress, "drain"))
            XCTAssertEqual(done["done"] as? String, "draining")
            XCTAssertEqual(drained.value, 1)
            _ = try object(try await InspectionClient.ask(writable.boundAddress, "detect-blocking 250"))
            XCTAssertEqual(Hub.current.statistics().blockingThreshold, .milliseconds(250))
            let unknown = try object(try await InspectionClient.ask(writable.boundAddress, "rm -rf /"))
            XCTAssertEqual(unknown["error"] as? String, "unknown command rm; try help")
        }
    }

    func testListensOnThisMachineOnlyUnlessAllowed() throws {
        try green {
            let role = RoleInspection(role: "test", state: { Array("{}".utf8) })
            XCTAssertThrowsError(try InspectionEndpoint(address: ListenAddress("198.51.100.7:0"), role: role)) { error in
                XCTAssertEqual(error as? OpsError, .notLocal("198.51.100.7:0"))
            }
            XCTAssertThrowsError(try InspectionEndpoint(address: ListenAddress(":0"), role: role))
            let path = NSTemporaryDirectory() + "evy-inspect-\(getpid()).sock"
            let endpoint = try InspectionEndpoint(address: ListenAddress("unix:\(path)"), role: role)
            let serving = spawn { try? await endpoint.run() }
            defer {
                endpoint.stop()
                serving.cancel()
                unlink(path)
            }
            var status = stat()
            XCTAssertEqual(stat(path, &status), 0)
            XCTAssertEqual(status.st_mode & 0o777, 0o600, "only its owner may connect")
            let hub = try object(try await InspectionClient.ask(endpoint.boundAddress, "hub"))
            XCTAssertNotNil(hub["longestTurnMs"] as? Double)
        }
    }

    /// A path that holds something else is never deleted; a live endpoint's socket is not taken
    /// over; stopping removes the socket file and ends connected consoles.
    func testUnixSocketsAreNeitherClobberedNorLeftBehind() throws {
        try green {
            let role = RoleInspection(role: "test", state: { Array("{}".utf8) })
            let file = NSTemporaryDirectory() + "evy-inspect-file-\(getpid())"
            try Data("journal".utf8).write(to: URL(fileURLWithPath: file))
            defer { unlink(file) }
            XCTAssertThrowsError(try InspectionEndpoint(address: ListenAddress("unix:\(file)"), role: role))
            XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "journal", "the file is intact")

            let path = NSTemporaryDirectory() + "evy-inspect-live-\(getpid()).sock"
            let first = try InspectionEndpoint(address: ListenAddress("unix:\(path)"), role: role)
            let serving = spawn { try? await first.run() }
            XCTAssertThrowsError(try InspectionEndpoint(address: ListenAddress("unix:\(path)"), role: role)) { error in
                guard case OpsError.inUse = error else { return XCTFail("\(error)") }
            }
            let console = try await connect(to: SocketAddress(unixPath: path))
            try await console.sendAll("hub\n")
            let answer = try await console.receive(timeout: .seconds(5))
            XCTAssertFalse(answer.isEmpty)
            first.stop()
            let end = try await console.receive(timeout: .seconds(5))
            XCTAssertEqual(end, [], "stop ends the console")
            console.close()
            serving.cancel()
            XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the socket file is removed")
            // A socket left by a process that died is stale: replaced.
            let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { buffer in
                for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
            }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            close(stale)
            let second = try InspectionEndpoint(address: ListenAddress("unix:\(path)"), role: role)
            second.stop()
        }
    }

    func testGarbageAndOverlongLinesDoNotHurtTheEndpoint() throws {
        try green {
            let endpoint = try InspectionEndpoint(
                address: ListenAddress("127.0.0.1:0"), role: RoleInspection(role: "test", state: { Array("{}".utf8) }))
            let serving = spawn { try? await endpoint.run() }
            defer {
                endpoint.stop()
                serving.cancel()
            }
            let garbage = try object(try await InspectionClient.ask(endpoint.boundAddress, "\u{1}\u{2}\u{ff}"))
            XCTAssertNotNil(garbage["error"])
            let socket = try await connect(to: endpoint.boundAddress.address)
            try await socket.sendAll(Array(repeating: UInt8(ascii: "x"), count: 10_000))
            let answer = try await socket.receive(timeout: .seconds(5))
            XCTAssertEqual(answer, [], "an overlong line closes the connection")
            socket.close()
            let still = try object(try await InspectionClient.ask(endpoint.boundAddress, "hub"))
            XCTAssertNotNil(still["jobsRun"])
        }
    }

    func testAddressesParse() throws {
        XCTAssertEqual(try ListenAddress("127.0.0.1:9100").description, "127.0.0.1:9100")
        XCTAssertEqual(try ListenAddress("[::1]:9100").description, "[::1]:9100")
        XCTAssertEqual(try ListenAddress(":9100").description, "0.0.0.0:9100")
        XCTAssertEqual(try ListenAddress("unix:/run/evy.sock").description, "unix:/run/evy.sock")
        XCTAssertTrue(try ListenAddress("127.0.0.1:1").isLocal)
        XCTAssertFalse(try ListenAddress("198.51.100.1:1").isLocal)
        for bad in ["", "9100", "host:port", "127.0.0.1:70000", "unix:", "example.com:80"] {
            XCTAssertThrowsError(try ListenAddress(bad), bad)
        }
    }
}

private func object(_ line: String) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
}
