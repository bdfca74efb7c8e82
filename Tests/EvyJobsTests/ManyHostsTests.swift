import Evy
import EvyTestSupport
import Foundation
import Glibc
import XCTest

/// The system across machines, as network namespaces this test makes: the dispatcher and the
/// collector on one host, two workers on each of two others, the client on a fourth, joined by
/// veth pairs on RFC 5737 addresses (198.51.100.0/24) and nothing routed anywhere else. Work
/// spreads over both worker hosts; then one host's workers are killed and the other finishes
/// everything.
final class ManyHostsTests: XCTestCase {
    private static func binary(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent(name).path
    }

    @discardableResult
    private static func ip(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Runs `command` in namespace `space` to its end and returns its standard output.
    private static func output(in space: String, _ command: [String]) async throws -> String {
        let process = try ChildProcess(
            ["/usr/sbin/ip", "netns", "exec", space] + command, standardInput: .discard, standardOutput: .pipe,
            standardError: .discard)
        var text = ""
        let lines = process.standardOutput!.buffered()
        while let line = try await lines.readLine(timeout: .seconds(60)) { text += line + "\n" }
        let status = try await process.wait(timeout: .seconds(60))
        XCTAssertEqual(status, .exited(0), "\(command)")
        return text
    }

    /// Starts a long-running role in namespace `space`; returns once it printed its first line.
    private static func start(in space: String, _ command: [String]) async throws -> ChildProcess {
        let process = try ChildProcess(
            ["/usr/sbin/ip", "netns", "exec", space] + command, standardInput: .discard, standardOutput: .pipe,
            standardError: .discard)
        _ = try await process.standardOutput!.buffered().readLine(timeout: .seconds(30))
        return process
    }

    func testWorkSpreadsOverTwoWorkerHostsAndOneFinishesWhenTheOtherDies() throws {
        try XCTSkipUnless(getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip"), "needs root and ip")
        let tag = "\(getpid() % 100_000)"
        let (hub, hostA, hostB, client) = ("evy\(tag)-hub", "evy\(tag)-a", "evy\(tag)-b", "evy\(tag)-cl")
        let spaces = [hub, hostA, hostB, client]
        guard try Self.ip(["netns", "add", hub]) == 0 else { throw XCTSkip("cannot make network namespaces here") }
        defer { for space in spaces { _ = try? Self.ip(["netns", "del", space]) } }
        // hub ↔ each other host: a /30 of 198.51.100.0/24 per link.
        let links = [(hostA, "198.51.100.1", "198.51.100.2"), (hostB, "198.51.100.5", "198.51.100.6"),
                     (client, "198.51.100.9", "198.51.100.10")]
        for space in spaces.dropFirst() { XCTAssertEqual(try Self.ip(["netns", "add", space]), 0) }
        for (index, (space, hubAddress, address)) in links.enumerated() {
            let (near, far) = ("v\(tag)h\(index)", "v\(tag)o\(index)")
            for arguments in [
                ["link", "add", near, "type", "veth", "peer", "name", far],
                ["link", "set", near, "netns", hub], ["link", "set", far, "netns", space],
                ["-n", hub, "addr", "add", hubAddress + "/30", "dev", near],
                ["-n", space, "addr", "add", address + "/30", "dev", far],
                ["-n", hub, "link", "set", near, "up"], ["-n", space, "link", "set", far, "up"],
                ["-n", space, "link", "set", "lo", "up"],
            ] {
                XCTAssertEqual(try Self.ip(arguments), 0, "ip \(arguments.joined(separator: " "))")
            }
        }
        XCTAssertEqual(try Self.ip(["-n", hub, "link", "set", "lo", "up"]), 0)
        let directory = NSTemporaryDirectory() + "evy-hosts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        try green(deadline: .seconds(150)) {
            var roles: [ChildProcess] = []
            defer { for role in roles { try? role.kill(SIGKILL) } }
            roles.append(
                try await Self.start(
                    in: hub,
                    [
                        Self.binary("evy-dispatcher"), "--client-endpoint", "tcp://*:5555", "--worker-endpoint",
                        "tcp://*:5556", "--data-dir", directory + "/dispatcher", "--heartbeat-ms", "200",
                    ]))
            roles.append(
                try await Self.start(
                    in: hub,
                    [
                        Self.binary("evy-collector"), "--result-endpoint", "tcp://*:5557", "--client-endpoint",
                        "tcp://*:5558", "--dispatcher", "tcp://127.0.0.1:5556", "--data-dir", directory + "/collector",
                    ]))
            var workersOf: [String: [ChildProcess]] = [:]
            for (space, hubAddress, _) in links.prefix(2) {
                for _ in 0..<2 {
                    workersOf[space, default: []].append(
                        try await Self.start(
                            in: space,
                            [
                                Self.binary("evy-worker"), "--dispatcher", "tcp://\(hubAddress):5556", "--collector",
                                "tcp://\(hubAddress):5557", "--handlers", "whoami", "--slots", "10", "--heartbeat-ms",
                                "200",
                            ]))
                }
            }
            roles += workersOf.values.flatMap { $0 }
            let host = { (name: String) -> String? in
                workersOf.first { $0.value.contains { name.hasSuffix("-\($0.pid)") } }?.key
            }
            let endpoints = ["--dispatcher", "tcp://198.51.100.9:5555", "--collector", "tcp://198.51.100.9:5558"]
            func jobs(_ count: Int, milliseconds: Int) throws -> String {
                let path = directory + "/jobs-\(count)-\(milliseconds).jsonl"
                try Data(String(repeating: "{\"handler\": \"whoami\", \"payload\": \"\(milliseconds)\"}\n", count: count).utf8)
                    .write(to: URL(fileURLWithPath: path))
                return path
            }
            func ranOn() async throws -> [String: Int] {
                var counts: [String: Int] = [:]
                let text = try await Self.output(
                    in: client, [Self.binary("evy"), "results", "--json", "--timeout", "30"] + endpoints)
                for line in text.split(separator: "\n") {
                    let result = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    counts[(result?["result"] as? String).flatMap(host) ?? "?", default: 0] += 1
                }
                return counts
            }

            // 200 jobs from the client's host: both worker hosts take part.
            _ = try await Self.output(
                in: client,
                [Self.binary("evy"), "submit", "whoami", "--file", try jobs(200, milliseconds: 10), "--wait"] + endpoints)
            let first = try await ranOn()
            XCTAssertEqual(first.values.reduce(0, +), 200, "\(first)")
            XCTAssertGreaterThan(first[hostA] ?? 0, 20, "host a did a share: \(first)")
            XCTAssertGreaterThan(first[hostB] ?? 0, 20, "host b did a share: \(first)")

            // 300 more; once they are under way, host a's workers die: host b finishes everything.
            let submit = try ChildProcess(
                ["/usr/sbin/ip", "netns", "exec", client, Self.binary("evy"), "submit", "whoami", "--file",
                 try jobs(300, milliseconds: 50), "--wait", "--timeout", "60"] + endpoints,
                standardInput: .discard, standardOutput: .discard, standardError: .discard)
            let statusCommand = [Self.binary("evy"), "status"] + endpoints
            try await waitUntilAsync("the second batch under way", timeout: .seconds(30)) {
                let status = try await Self.output(in: client, statusCommand)
                let object = try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any]
                return ((object?["dispatcher"] as? [String: Any])?["done"] as? Int ?? 0) >= 240
            }
            for worker in workersOf[hostA]! { try worker.kill(SIGKILL) }
            let status = try await submit.wait(timeout: .seconds(90))
            XCTAssertEqual(status, .exited(0), "every outcome arrived")
            let all = try await ranOn()
            XCTAssertEqual(all.values.reduce(0, +), 500, "every job recorded once: \(all)")
            XCTAssertGreaterThan(all[hostB] ?? 0, first[hostB] ?? 0, "host b finished the rest")
            XCTAssertNil(all["?"], "every job ran on a known worker")
        }
    }
}
