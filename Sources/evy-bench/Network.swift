// The network benchmarks of evy-bench: echo throughput and latency against a C epoll
// server, memory per idle connection, TLS handshakes per second.
import Evy
import EvyBenchmarks
import Foundation
import Glibc

/// A server process started for a benchmark: its process and port.
struct ServerProcess {
    let child: Child
    let port: Int

    /// Starts `command` (pinned to CPU 0 when taskset exists) and waits for its `listening PORT`;
    /// the server is killed once `seconds` have passed if it has not been stopped by then.
    static func start(_ command: [String], seconds: Double) throws -> ServerProcess {
        let child = try Child(command, cpus: "0", seconds: seconds)
        guard let line = child.readLine(containing: "listening"), let port = Int(line.split(separator: " ").last ?? "")
        else {
            child.stop()
            throw BenchmarkFailure("server did not start: \(command.joined(separator: " "))")
        }
        return ServerProcess(child: child, port: port)
    }

    func stop() { child.stop() }

    /// The server's resident memory, from /proc.
    var residentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(child.pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
}

/// Compiles the C program `source` (a path under Benchmarks/) into .build/evy-bench-c unless the
/// binary there is newer than it, and returns the binary's path.
func compileC(_ source: String, libraries: [String] = []) throws -> String {
    let directory = ".build/evy-bench-c"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let binary = directory + "/" + URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
    func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
    if let built = modified(binary), let written = modified(source), built >= written { return binary }
    let cc = try Child(["cc", "-O2", "-o", binary, source] + libraries, seconds: 120, passOutput: .standardError)
    _ = try cc.finish()
    guard cc.status == 0 else { throw BenchmarkFailure("cannot compile \(source) (install gcc and libzmq3-dev)") }
    return binary
}

/// Runs the load generator (pinned to CPU 1) against `port`; returns its JSON fields.
func loadgen(_ loadgen: String, port: Int, connections: Int, seconds: Double, lines: Bool) throws -> [String: Double] {
    let command = [loadgen, "\(port)", "\(connections)", "\(seconds)", "64"] + (lines ? ["lines"] : [])
    let output = try Child.run(command, cpus: "1", seconds: seconds + 30)
    guard let object = (try? JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any] else {
        throw BenchmarkFailure("loadgen printed no result")
    }
    return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

/// `echo`: 100 connections of 64-byte requests for `seconds`, C epoll server vs Evy (raw echo and
/// the line echo of Examples/echo-server), one after the other on the same cores.
func echoBenchmark(seconds: Double) throws {
    let (server, load) = (try compileC("Benchmarks/echo/epoll_echo.c"), try compileC("Benchmarks/echo/loadgen.c"))
    let me = CommandLine.arguments[0]
    var reference: Double?
    let servers: [(String, [String], Bool)] = [
        ("c-epoll", [server, "0"], false),
        ("evy", [me, "--echo-server", "raw"], false),
        ("evy-lines", [me, "--echo-server", "lines"], true),
    ]
    for (source, command, lines) in servers {
        attempt("echo", source: source) {
            let server = try ServerProcess.start(command, seconds: seconds + 60)
            defer { server.stop() }
            let result = try loadgen(load, port: server.port, connections: 100, seconds: seconds, lines: lines)
            let rps = result["rps"] ?? 0
            var fields: [(String, Any)] = [
                ("name", "echo"), ("source", source), ("value", rps), ("unit", "req/s"),
                ("p50_us", result["p50_us"] ?? 0), ("p99_us", result["p99_us"] ?? 0),
                ("connections", 100),
            ]
            if source == "c-epoll" {
                reference = rps
            } else if let reference, reference > 0 {
                fields += [("ratio", rps / reference), ("ratio_reference", "c-epoll")]
            }
            print(json(fields))
        }
    }
}

/// `idle-connections`: resident memory per idle connection with `count` connections held open, for
/// the Evy line echo server and the C epoll server.
func idleConnectionsBenchmark(count: Int) throws {
    EchoServers.raiseDescriptorLimit()
    let servers: [(String, [String])] = [
        ("c-epoll", [try compileC("Benchmarks/echo/epoll_echo.c"), "0"]),
        ("evy", [CommandLine.arguments[0], "--echo-server", "lines"]),
    ]
    // A server that stops answering is killed at its deadline, which ends the reads below.
    for (source, command) in servers {
        attempt("idle-connections", source: source) {
            let server = try ServerProcess.start(command, seconds: 180)
            defer { server.stop() }
            usleep(200_000)  // let the server settle before the baseline reading (a benchmark, not a test)
            let before = server.residentBytes
            var fds: [Int32] = []
            defer { for fd in fds { close(fd) } }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(server.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            for _ in 0..<count {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                let ok = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                guard fd >= 0, ok == 0 else { break }
                fds.append(fd)
            }
            // Every connection sends a line and reads it back, so each has been accepted and served.
            var byte: [UInt8] = Array("x\n".utf8)
            for fd in fds { _ = write(fd, &byte, 2) }
            var reply = [UInt8](repeating: 0, count: 2)
            for fd in fds { _ = read(fd, &reply, 2) }
            let after = server.residentBytes
            let perConnection = Double(after - before) / Double(max(fds.count, 1))
            // The kernel's socket buffers are not in a process's resident memory, so the C server
            // shows what a connection costs in user space at the minimum: no ratio is meaningful.
            print(
                json([
                    ("name", "idle-connections"), ("source", source), ("value", perConnection), ("unit", "bytes"),
                    ("n", fds.count), ("note", source == "c-epoll" ? "user-space floor" : "target < 4096"),
                ]))
        }
    }
}

/// `tls-handshake`: full TLS 1.3 handshakes per second over loopback, server and clients green in
/// one process, with a throw-away P-256 certificate.
func tlsHandshakeBenchmark(seconds: Double) throws {
    let directory = NSTemporaryDirectory() + "evy-bench-tls-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let (certificate, key) = (directory + "/cert.pem", directory + "/key.pem")
    _ = try Child.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
        ], seconds: 30, quiet: true)
    let rate = try Hub.run {
        try await withTimeout(.seconds(seconds + 30), label: "tls-handshake") { () async throws -> Double in
            let server = try TLSContext.server(certificateFile: certificate, keyFile: key)
            let client = try TLSContext.client(verifyPeer: false)
            let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0), backlog: 1024)
            spawnN { try await serveTLS(listener, context: server) { tls, _ in try await tls.sendAll("k") } }
            let address = listener.localAddress!
            let done = Counter()
            let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int64(seconds * 1000)))
            let workers = (0..<20).map { _ in
                spawn {
                    while ContinuousClock.now < deadline {
                        let tls = try await wrapTLS(
                            try await connect(to: address), context: client, serverName: "localhost")
                        _ = try await tls.receive(maxLength: 1)
                        tls.close()
                        done.value += 1
                    }
                }
            }
            let start = ContinuousClock.now
            for worker in workers { try await worker.wait() }
            let elapsed = start.duration(to: .now)
            listener.close()
            return Double(done.value)
                / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
    }
    print(
        json([
            ("name", "tls-handshake"), ("source", "evy"), ("value", rate), ("unit", "handshakes/s"),
            ("note", "server and clients in one process on one hub"),
        ]))
}

final class Counter: @unchecked Sendable {
    var value = 0
}

/// Runs a binding peer (pinned to CPU 0) on a port the system picks, and once it has printed
/// `ready ENDPOINT`, a connecting peer (CPU 1) to that endpoint; returns the JSON number `key`
/// printed by whichever prints it. Each peer is killed if it runs past `seconds`.
func runZMQPair(
    _ command: [String], bindRole: String, connectRole: String, count: Int, size: Int, key: String,
    seconds: Double
) throws -> Double {
    let binder = try Child(
        command + [bindRole, "tcp://127.0.0.1:*", "\(count)", "\(size)"], cpus: "0", seconds: seconds)
    guard let ready = binder.readLine(containing: "ready"), let endpoint = ready.split(separator: " ").last,
        endpoint.hasPrefix("tcp://")
    else {
        _ = try? binder.finish()
        throw BenchmarkFailure("the \(bindRole) peer did not bind (exit status \(binder.status))")
    }
    let connector = try Child(
        command + [connectRole, String(endpoint), "\(count)", "\(size)"], cpus: "1", seconds: seconds)
    let binderOutput = try binder.finish()
    if binder.status != 0 { connector.stop() }
    let output = binderOutput + (try connector.finish())
    for line in output.split(separator: "\n") {
        if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let value = (object[key] as? NSNumber)?.doubleValue
        {
            return value
        }
    }
    throw BenchmarkFailure("no \(key) from the peers (exit status \(binder.status), \(connector.status))")
}

/// `zmq-pushpull` and `zmq-reqrep`: 64-byte messages over tcp://127.0.0.1, blocking C libzmq
/// peers vs green Evy peers, each pair in two processes pinned to separate cores, same run.
func zmqBenchmarks(_ name: String, count: Int) throws {
    let c = try compileC("Benchmarks/zmq/zmq_peer.c", libraries: ["-lzmq"])
    let evy = [CommandLine.arguments[0], "--zmq-peer"]
    let pushpull = name == "zmq-pushpull"
    let (bindRole, connectRole, key, unit) =
        pushpull
        ? ("pull", "push", "msgs_per_s", "msgs/s") : ("rep", "req", "round_trip_us", "us")
    let messages = pushpull ? count : min(count, 20_000)
    var reference = 0.0
    for (source, command) in [("c-libzmq", [c]), ("evy", evy)] {
        attempt(name, source: source) {
            let value = try runZMQPair(
                command, bindRole: bindRole, connectRole: connectRole, count: messages, size: 64,
                key: key, seconds: 30 + Double(messages) / 20_000)
            var fields: [(String, Any)] = [
                ("name", name), ("source", source), ("value", value), ("unit", unit),
                ("n", messages), ("size", 64),
            ]
            if source == "c-libzmq" {
                reference = value
            } else if reference > 0, value > 0 {
                fields += [
                    ("ratio", pushpull ? value / reference : reference / value), ("ratio_reference", "c-libzmq"),
                ]
            }
            print(json(fields))
            fflushStandardOutput()
        }
    }
    guard pushpull else { return }
    attempt("zmq-shared-socket", source: "evy") {
        let shared = try Hub.run {
            try await withTimeout(.seconds(60), label: "zmq-shared-socket") {
                try await ZMQPeer.sharedSocket(greenThreads: 100, messages: 200_000)
            }
        }
        print(
            json([
                ("name", "zmq-shared-socket"), ("source", "evy"), ("value", shared), ("unit", "msgs/s"),
                ("note", "100 green threads on one PUSH socket, inproc"),
            ]))
    }
    attempt("zmq-many-sockets", source: "evy") {
        let many = try Hub.run {
            try await withTimeout(.seconds(60), label: "zmq-many-sockets") {
                try await ZMQPeer.manySockets(pairs: 1_000, messages: 100)
            }
        }
        print(
            json([
                ("name", "zmq-many-sockets"), ("source", "evy"), ("value", many), ("unit", "msgs/s"),
                ("note", "1,000 PUSH/PULL pairs in one process, inproc"),
            ]))
    }
}
