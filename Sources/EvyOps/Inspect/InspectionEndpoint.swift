import Evy
import EvyJobs
import Foundation
import Logging

/// What a role shows in the console besides the hub's own readings: its name, its state as JSON,
/// and the actions an operator may take on it (run only on an endpoint opened with actions on).
public struct RoleInspection: Sendable {
    /// An action's answer (a line of text), or its error.
    public typealias Action = @Sendable (_ argument: String) async throws -> String

    /// `dispatcher`, `collector`, `worker`…
    public var role: String
    /// The role's state (`Dispatcher.stateJSON()`…), read on the hub.
    public var state: @Sendable () -> [UInt8]
    /// Actions by name (`drain`…), with a line of help each.
    public var actions: [String: (help: String, run: Action)]

    /// A role called `role` whose state `state` reads.
    public init(role: String, state: @escaping @Sendable () -> [UInt8], actions: [String: (help: String, run: Action)] = [:]) {
        self.role = role
        self.state = state
        self.actions = actions
    }
}

/// The inspection console of a running process (Eventlet's backdoor, read-only): a line-based
/// endpoint, off unless a role is given `--admin ADDRESS`, that answers each command line with one
/// line of JSON.
///
/// Commands: `all` (the default for an empty line), `hub` (``HubStatistics``), `threads`
/// (``GreenThreadSnapshot``s: names, what each waits on), `pools` (``PoolSnapshot``s), `role` (the
/// role's state: in-flight jobs, leases…), `help`. Actions — `detect-blocking MS` (turn on the
/// hub's blocking detector) and the role's own (a worker's `drain`) — are refused unless the
/// endpoint was opened with `allowActions`.
///
/// Local only: it refuses to listen on anything but loopback or a Unix socket unless
/// `allowRemote` (it has no authentication; reach it over SSH). A Unix socket is made readable by
/// its owner only; a stale socket file at its path is replaced, anything else there (a file,
/// another process's live socket) is refused, and the file is removed when the endpoint stops.
/// Hub-confined: its answers read the hub on its own thread. A client that sends
/// garbage gets an `error` answer; one that sends a line over 4 KiB is disconnected.
public final class InspectionEndpoint: @unchecked Sendable {
    /// The address as bound.
    public let boundAddress: ListenAddress
    private let listener: Socket
    private let role: RoleInspection
    private let allowActions: Bool
    private var connections: [ObjectIdentifier: (socket: Socket, thread: GreenThread<Void>)] = [:]
    private var socketPath: String?
    private let logger = Logger(label: "evy.inspect")

    /// Binds `address` (throws ``OpsError/notLocal(_:)`` for a remote one without `allowRemote`).
    public init(address: ListenAddress, role: RoleInspection, allowActions: Bool = false, allowRemote: Bool = false) throws {
        guard address.isLocal || allowRemote else { throw OpsError.notLocal(address.description) }
        if case .unix(let path) = address.address {
            try Self.removeStaleSocket(at: path)
            socketPath = path
        }
        listener = try listen(on: address.address)
        if let socketPath { chmod(socketPath, 0o600) }
        boundAddress = listener.localAddress.map { (try? ListenAddress(bound: $0)) ?? address } ?? address
        self.role = role
        self.allowActions = allowActions
    }

    /// Serves consoles until cancelled or ``stop()``, one green thread per connection.
    public func run() async throws {
        defer { stop() }
        while true {
            let (connection, _) = try await listener.accept()
            let id = ObjectIdentifier(connection)
            let thread = spawn(name: "inspect connection") { [self] in
                defer {
                    connections[id] = nil
                    connection.close()
                }
                await serve(connection)
            }
            if !thread.isDone { connections[id] = (connection, thread) }
        }
    }

    /// Stops listening, ends every console connection and removes the Unix socket's file.
    /// Idempotent.
    public func stop() {
        listener.close()
        for connection in connections.values { connection.thread.cancel() }
        connections = [:]
        if let socketPath {
            unlink(socketPath)
            self.socketPath = nil
        }
    }

    /// Makes room for a socket at `path`: nothing there, or a socket no process listens on
    /// (left by a process that died), which is removed. Anything else is an error, not deleted.
    private static func removeStaleSocket(at path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else { return }
        guard status.st_mode & S_IFMT == S_IFSOCK else { throw OpsError.inUse("\(path) exists and is not a socket") }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(probe) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.prefix(buffer.count - 1).enumerated() { buffer[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected != 0 else { throw OpsError.inUse("another process listens on \(path)") }
        unlink(path)
    }

    private func serve(_ connection: Socket) async {
        let stream = connection.buffered()
        while let line = try? await stream.readLine(maxLength: 4096) {
            let answer = await self.answer(line.trimmingCharacters(in: .whitespacesAndNewlines))
            guard (try? await stream.write(answer + "\n")) != nil, (try? await stream.flush()) != nil else { return }
        }
    }

    /// The answer to one command line, as one line of JSON.
    public func answer(_ line: String) async -> String {
        let words = line.split(separator: " ").map(String.init)
        let command = words.first ?? "all"
        let argument = words.dropFirst().joined(separator: " ")
        let hub = Hub.current
        switch command {
        case "all":
            return
                "{\"role\": \(jsonQuoted(role.role)), \"hub\": \(hubJSON(hub)), \"threads\": \(threadsJSON(hub)), "
                + "\"pools\": \(poolsJSON(hub)), \"state\": \(String(decoding: role.state(), as: UTF8.self))}"
        case "hub": return hubJSON(hub)
        case "threads": return threadsJSON(hub)
        case "pools": return poolsJSON(hub)
        case "role": return String(decoding: role.state(), as: UTF8.self)
        case "help":
            let actions = (["detect-blocking": "MS: report green threads that hold the hub longer than MS"]
                .merging(role.actions.mapValues(\.help)) { first, _ in first })
                .sorted { $0.key < $1.key }.map { "\(jsonQuoted($0.key)): \(jsonQuoted($0.value))" }
            return
                "{\"commands\": [\"all\", \"hub\", \"threads\", \"pools\", \"role\", \"help\"], \"actionsAllowed\": \(allowActions), "
                + "\"actions\": {\(actions.joined(separator: ", "))}}"
        case _ where command == "detect-blocking" || role.actions[command] != nil:
            guard allowActions else {
                return error("actions are off on this endpoint (start the role with --admin-actions)")
            }
            logger.notice("inspection console: \(line)")
            if command == "detect-blocking" {
                guard let milliseconds = Int(argument), milliseconds > 0 else { return error("detect-blocking MS, MS > 0") }
                hub.detectBlocking(threshold: .milliseconds(milliseconds))
                return "{\"done\": \(jsonQuoted("blocking detector on at \(milliseconds) ms"))}"
            }
            do {
                return "{\"done\": \(jsonQuoted(try await role.actions[command]!.run(argument)))}"
            } catch {
                return self.error("\(error)")
            }
        default:
            return error("unknown command \(command); try help")
        }
    }

    private func error(_ text: String) -> String { "{\"error\": \(jsonQuoted(text))}" }

    private func hubJSON(_ hub: Hub) -> String {
        let statistics = hub.statistics()
        return
            "{\"jobsRun\": \(statistics.jobsRun), \"turns\": \(statistics.turns), \"longestTurnMs\": \(milliseconds(statistics.longestTurn)), "
            + "\"blockingReports\": \(statistics.blockingReports), \"blockingThresholdMs\": \(statistics.blockingThreshold.map { "\(milliseconds($0))" } ?? "null"), "
            + "\"greenThreads\": \(statistics.greenThreads), \"timers\": \(statistics.timers), \"watchedDescriptors\": \(statistics.watchedDescriptors)}"
    }

    private func threadsJSON(_ hub: Hub) -> String {
        let items = hub.greenThreadSnapshots().prefix(1_000).map { thread in
            "{\"name\": \(thread.name.map(jsonQuoted) ?? "null"), \"waitingOn\": \(thread.waitingOn.map(jsonQuoted) ?? "null"), "
                + "\"timesOutInMs\": \(thread.timesOutIn.map { "\(milliseconds($0))" } ?? "null"), "
                + "\"ageSeconds\": \((milliseconds(thread.age)).rounded() / 1000), \"pool\": \(thread.pool.map(jsonQuoted) ?? "null")}"
        }
        return "[\(items.joined(separator: ", "))]"
    }

    private func poolsJSON(_ hub: Hub) -> String {
        let items = hub.poolSnapshots().map { pool in
            "{\"kind\": \(jsonQuoted(pool.kind)), \"name\": \(pool.name.map(jsonQuoted) ?? "null"), \"size\": \(pool.size), "
                + "\"inUse\": \(pool.inUse), \"free\": \(pool.free), \"waiting\": \(pool.waiting)}"
        }
        return "[\(items.joined(separator: ", "))]"
    }
}

/// A duration in milliseconds, with three decimals.
func milliseconds(_ duration: Duration) -> Double {
    let exact = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    return (exact * 1000).rounded() / 1000
}
