// The network benchmarks of evy-bench: echo throughput and latency against a C epoll
// server, memory per idle connection, TLS handshakes per second.
import Evy
import EvyBenchmarks
import Foundation
import Glibc

/// A server process started for a benchmark: its pid and port.
struct ServerProcess {
    let process: Process
    let port: Int

    /// Starts `command` (pinned to CPU 0 when `taskset` exists) and waits for its `listening PORT`.
    static func start(_ command: [String]) throws -> ServerProcess {
        let process = Process()
        let pinned = FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")
        process.executableURL = URL(fileURLWithPath: pinned ? "/usr/bin/taskset" : command[0])
        process.arguments = pinned ? ["-c", "0"] + command : Array(command.dropFirst())
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let port = text.split(separator: "\n").first.flatMap({ Int($0.split(separator: " ").last ?? "") }) else {
            process.terminate()
            throw BenchmarkError.unknownScenario("server did not start: \(command)")
        }
        return ServerProcess(process: process, port: port)
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    /// The server's resident memory, from /proc.
    var residentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
}

/// Compiles the C reference programs once into .build/evy-bench-c.
func compileCTools() throws -> URL {
    let directory = URL(fileURLWithPath: ".build/evy-bench-c")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for tool in ["epoll_echo", "loadgen"] {
        let binary = directory.appendingPathComponent(tool)
        if FileManager.default.isExecutableFile(atPath: binary.path) { continue }
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-O2", "-o", binary.path, "Benchmarks/echo/\(tool).c"]
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw BenchmarkError.unknownScenario("cannot compile \(tool).c") }
    }
    return directory
}

/// Runs the load generator (pinned to CPU 1) against `port`; returns its JSON fields.
func loadgen(_ tools: URL, port: Int, connections: Int, seconds: Double, lines: Bool) throws -> [String: Double] {
    let process = Process()
    let pinned = FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")
    let command = [tools.appendingPathComponent("loadgen").path, "\(port)", "\(connections)", "\(seconds)", "64"]
        + (lines ? ["lines"] : [])
    process.executableURL = URL(fileURLWithPath: pinned ? "/usr/bin/taskset" : command[0])
    process.arguments = pinned ? ["-c", "1"] + command : Array(command.dropFirst())
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    return object.compactMapValues { ($0 as? NSNumber)?.doubleValue }
}

func json(_ fields: [(String, Any)]) -> String {
    "{" + fields.map { key, value in
        let rendered: String
        switch value {
        case let text as String: rendered = "\"\(text)\""
        case let number as Double: rendered = String(format: "%.4g", number)
        default: rendered = "\(value)"
        }
        return "\"\(key)\": \(rendered)"
    }.joined(separator: ", ") + "}"
}

/// `echo`: 100 connections of 64-byte requests for `seconds`, C epoll server vs Evy (raw echo and
/// the line echo of Examples/echo-server), one after the other on the same cores.
func echoBenchmark(seconds: Double) throws {
    let tools = try compileCTools()
    let me = CommandLine.arguments[0]
    var reference: Double?
    let servers: [(String, [String], Bool)] = [
        ("c-epoll", [tools.appendingPathComponent("epoll_echo").path, "0"], false),
        ("evy", [me, "--echo-server", "raw"], false),
        ("evy-lines", [me, "--echo-server", "lines"], true),
    ]
    for (source, command, lines) in servers {
        let server = try ServerProcess.start(command)
        defer { server.stop() }
        let result = try loadgen(tools, port: server.port, connections: 100, seconds: seconds, lines: lines)
        let rps = result["rps"] ?? 0
        var fields: [(String, Any)] = [("name", "echo"), ("source", source), ("value", rps), ("unit", "req/s"),
                                       ("p50_us", result["p50_us"] ?? 0), ("p99_us", result["p99_us"] ?? 0),
                                       ("connections", 100)]
        if source == "c-epoll" { reference = rps } else if let reference, reference > 0 {
            fields += [("ratio", rps / reference), ("ratio_reference", "c-epoll")]
        }
        print(json(fields))
    }
}

/// `idle-connections`: resident memory per idle connection with `count` connections held open, for
/// the Evy line echo server and the C epoll server.
func idleConnectionsBenchmark(count: Int) throws {
    EchoServers.raiseDescriptorLimit()
    let tools = try compileCTools()
    let servers: [(String, [String])] = [
        ("c-epoll", [tools.appendingPathComponent("epoll_echo").path, "0"]),
        ("evy", [CommandLine.arguments[0], "--echo-server", "lines"]),
    ]
    for (source, command) in servers {
        let server = try ServerProcess.start(command)
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
        print(json([("name", "idle-connections"), ("source", source), ("value", perConnection), ("unit", "bytes"),
                    ("n", fds.count), ("note", source == "c-epoll" ? "user-space floor" : "target < 4096")]))
    }
}

/// `tls-handshake`: full TLS 1.3 handshakes per second over loopback, server and clients green in
/// one process, with a throw-away P-256 certificate.
func tlsHandshakeBenchmark(seconds: Double) throws {
    let rate = try Hub.run { () async throws -> Double in
        let directory = NSTemporaryDirectory() + "evy-bench-tls-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (certificate, key) = (directory + "/cert.pem", directory + "/key.pem")
        _ = try await ChildProcess.run([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
        ])
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
                    let tls = try await wrapTLS(try await connect(to: address), context: client, serverName: "localhost")
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
        return Double(done.value) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    print(json([("name", "tls-handshake"), ("source", "evy"), ("value", rate), ("unit", "handshakes/s"),
                ("note", "server and clients in one process on one hub")]))
}

final class Counter: @unchecked Sendable {
    var value = 0
}

/// Compiles the blocking C libzmq peer once.
func compileZMQPeer() throws -> String {
    let binary = ".build/evy-bench-c/zmq_peer"
    try FileManager.default.createDirectory(atPath: ".build/evy-bench-c", withIntermediateDirectories: true)
    if !FileManager.default.isExecutableFile(atPath: binary) {
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-O2", "-o", binary, "Benchmarks/zmq/zmq_peer.c", "-lzmq"]
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw BenchmarkError.unknownScenario("cannot compile zmq_peer.c") }
    }
    return binary
}

/// Runs a binding peer (pinned to CPU 0) and, once it is ready, a connecting peer (CPU 1); returns
/// the JSON number `key` printed by whichever prints it.
func runZMQPair(_ command: [String], bindRole: String, connectRole: String, endpoint: String, count: Int,
                size: Int, key: String) throws -> Double {
    func start(_ role: String, cpu: Int) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
        process.arguments = ["-c", "\(cpu)"] + command + [role, endpoint, "\(count)", "\(size)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        return (process, output)
    }
    let (binder, binderOutput) = try start(bindRole, cpu: 0)
    var text = ""
    while !text.contains("ready") {
        let chunk = binderOutput.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        text += String(decoding: chunk, as: UTF8.self)
    }
    let (connector, connectorOutput) = try start(connectRole, cpu: 1)
    let rest = binderOutput.fileHandleForReading.readDataToEndOfFile()
    let other = connectorOutput.fileHandleForReading.readDataToEndOfFile()
    binder.waitUntilExit()
    connector.waitUntilExit()
    for line in (text + String(decoding: rest + other, as: UTF8.self)).split(separator: "\n") {
        if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
           let value = (object[key] as? NSNumber)?.doubleValue {
            return value
        }
    }
    return 0
}

/// `zmq-pushpull` and `zmq-reqrep`: 64-byte messages over tcp://127.0.0.1, blocking C libzmq
/// peers vs green Evy peers, each pair in two processes pinned to separate cores, same run.
func zmqBenchmarks(_ name: String, count: Int) throws {
    let c = try compileZMQPeer()
    let evy = [CommandLine.arguments[0], "--zmq-peer"]
    let pushpull = name == "zmq-pushpull"
    let (bindRole, connectRole, key, unit) = pushpull
        ? ("pull", "push", "msgs_per_s", "msgs/s") : ("rep", "req", "round_trip_us", "us")
    let messages = pushpull ? count : min(count, 20_000)
    var reference = 0.0
    for (source, command) in [("c-libzmq", [c]), ("evy", evy)] {
        let port = Int.random(in: 20000...60000)
        let value = try runZMQPair(command, bindRole: bindRole, connectRole: connectRole,
                                   endpoint: "tcp://127.0.0.1:\(port)", count: messages, size: 64, key: key)
        var fields: [(String, Any)] = [("name", name), ("source", source), ("value", value), ("unit", unit),
                                       ("n", messages), ("size", 64)]
        if source == "c-libzmq" { reference = value } else if reference > 0, value > 0 {
            fields += [("ratio", pushpull ? value / reference : reference / value), ("ratio_reference", "c-libzmq")]
        }
        print(json(fields))
        fflushStandardOutput()
    }
    if pushpull {
        let (shared, many) = try Hub.run { () async throws -> (Double, Double) in
            (try await ZMQPeer.sharedSocket(greenThreads: 100, messages: 200_000),
             try await ZMQPeer.manySockets(pairs: 1_000, messages: 100))
        }
        print(json([("name", "zmq-shared-socket"), ("source", "evy"), ("value", shared), ("unit", "msgs/s"),
                    ("note", "100 green threads on one PUSH socket, inproc")]))
        print(json([("name", "zmq-many-sockets"), ("source", "evy"), ("value", many), ("unit", "msgs/s"),
                    ("note", "1,000 PUSH/PULL pairs in one process, inproc")]))
    }
}

/// Pushes printed lines out now (a later crash must not swallow them).
func fflushStandardOutput() { fflush(nil) }
