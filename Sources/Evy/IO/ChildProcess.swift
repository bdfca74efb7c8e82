import CLibUV
import Glibc

/// How a child process ended.
public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
    /// It exited with this code.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)

    /// Whether it exited with code 0.
    public var succeeded: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): "exited with code \(code)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// A child process with green pipes to its standard streams (Evy's green `subprocess`). Its exit
/// is reported by libuv's child watcher, so waiting for it suspends only the calling green thread.
///
/// ```swift
/// let child = try ChildProcess(["sort"])
/// let (status, output, _) = try await child.communicate(input: Array("b\na\n".utf8))
/// ```
/// Hub-confined.
public final class ChildProcess: @unchecked Sendable {
    /// What a standard stream of the child is connected to.
    public enum Stdio: Sendable {
        /// A pipe to this process (``ChildProcess/standardInput`` and friends).
        case pipe
        /// The same stream as this process.
        case inherit
        /// `/dev/null`.
        case discard
    }

    /// The child's process id.
    public let pid: Int32
    /// A pipe to the child's standard input, if it was asked for.
    public let standardInput: GreenPipe?
    /// A pipe from the child's standard output, if it was asked for.
    public let standardOutput: GreenPipe?
    /// A pipe from the child's standard error, if it was asked for.
    public let standardError: GreenPipe?
    private let hub: Hub
    private let handle: UnsafeMutablePointer<uv_process_t>
    private var status: ExitStatus?
    private var waiters = WaiterQueue<Waiter<ExitStatus>>()

    /// Starts `command` (`command[0]` is looked up in `PATH`) with the given standard streams.
    /// Throws ``SocketError/system(_:_:)`` (`ENOENT` for a missing program) if it cannot start.
    public init(
        _ command: [String], environment: [String: String]? = nil, workingDirectory: String? = nil,
        standardInput stdinMode: Stdio = .pipe, standardOutput stdoutMode: Stdio = .pipe,
        standardError stderrMode: Stdio = .pipe
    ) throws {
        precondition(!command.isEmpty, "a command needs at least the program")
        let hub = Hub.current
        hub.assertOnHubThread("ChildProcess")
        self.hub = hub
        let loop = hub.loop
        // Our ends of the pipes are green; the child's ends are inherited and closed here after.
        var ours: [GreenPipe?] = [nil, nil, nil]
        var theirs: [Int32] = [-1, -1, -1]
        var toClose: [Int32] = []
        defer { for fd in toClose { Glibc.close(fd) } }
        for (index, mode) in [stdinMode, stdoutMode, stderrMode].enumerated() {
            switch mode {
            case .inherit:
                theirs[index] = Int32(index)
            case .discard:
                let null = open("/dev/null", index == 0 ? O_RDONLY : O_WRONLY)
                guard null >= 0 else { throw SocketError.system("open /dev/null", errno) }
                theirs[index] = null
                toClose.append(null)
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { throw SocketError.system("pipe", errno) }
                let (mine, child) = index == 0 ? (fds[1], fds[0]) : (fds[0], fds[1])
                _ = fcntl(mine, F_SETFD, FD_CLOEXEC)
                ours[index] = try GreenPipe(adopting: mine)
                theirs[index] = child
                toClose.append(child)
            }
        }
        let process = UnsafeMutablePointer<uv_process_t>.allocate(capacity: 1)
        handle = process
        let box = Unmanaged.passRetained(ExitBox())
        process.pointee.data = box.toOpaque()
        let spawned: Int32 = withCStrings(command) { argv in
            withCStrings(environment.map { $0.map { "\($0.key)=\($0.value)" } }) { envp in
                var stdio = (0..<3).map { index -> uv_stdio_container_t in
                    var container = uv_stdio_container_t()
                    container.flags = UV_INHERIT_FD
                    container.data.fd = theirs[index]
                    return container
                }
                return stdio.withUnsafeMutableBufferPointer { containers in
                    var options = uv_process_options_t()
                    options.exit_cb = { process, exitStatus, termSignal in
                        let box = Unmanaged<ExitBox>.fromOpaque(process!.pointee.data).takeRetainedValue()
                        box.child?.exited(status: termSignal != 0 ? .signaled(termSignal) : .exited(Int32(exitStatus)))
                        process!.withMemoryRebound(to: uv_handle_t.self, capacity: 1) { handle in
                            uv_close(handle) { $0!.withMemoryRebound(to: uv_process_t.self, capacity: 1) { $0.deallocate() } }
                        }
                    }
                    options.file = UnsafePointer(argv[0])
                    options.args = argv
                    options.env = environment == nil ? nil : envp
                    options.stdio_count = 3
                    options.stdio = containers.baseAddress
                    return workingDirectory.withOptionalCString { cwd in
                        options.cwd = cwd
                        return uv_spawn(loop, process, &options)
                    }
                }
            }
        }
        guard spawned == 0 else {
            // libuv still closes the handle it initialised; free it from the close callback.
            box.release()
            process.pointee.data = nil
            process.withMemoryRebound(to: uv_handle_t.self, capacity: 1) { handle in
                uv_close(handle) { $0!.withMemoryRebound(to: uv_process_t.self, capacity: 1) { $0.deallocate() } }
            }
            throw SocketError.system("spawn \(command[0])", -spawned)
        }
        pid = process.pointee.pid
        standardInput = ours[0]
        standardOutput = ours[1]
        standardError = ours[2]
        box.takeUnretainedValue().child = self
    }

    fileprivate func exited(status: ExitStatus) {
        self.status = status
        for waiter in waiters.takeAll() { waiter.resume(returning: status) }
    }

    /// The exit status, once the child has ended.
    public var exitStatus: ExitStatus? { status }

    /// Waits until the child ends and returns how. Throws ``TimeoutError`` if `timeout` passes
    /// first (the child keeps running).
    @discardableResult
    public func wait(timeout: Duration? = nil) async throws -> ExitStatus {
        if let status { return status }
        do {
            return try await hub.park(deadline: hub.deadline(after: timeout)) { waiter in
                if let status { waiter.resume(returning: status) } else { waiters.append(waiter) }
            }
        } catch is ParkTimedOut {
            throw TimeoutError(duration: timeout ?? .zero)
        }
    }

    /// Sends `signal` (SIGTERM by default) to the child; does nothing once it has ended.
    public func kill(_ signal: Int32 = SIGTERM) throws {
        guard status == nil else { return }
        let result = uv_process_kill(handle, signal)
        guard result == 0 || result == UV_ESRCH.rawValue else { throw SocketError.system("kill", -result) }
    }

    /// Writes `input` to the child's standard input and closes it, reads its standard output and
    /// error to the end, concurrently, and waits for it to end (`Popen.communicate`).
    public func communicate(input: [UInt8] = [], timeout: Duration? = nil) async throws -> (
        status: ExitStatus, output: [UInt8], error: [UInt8]
    ) {
        let stdin = standardInput, stdout = standardOutput, stderr = standardError
        let work = { () async throws -> (ExitStatus, [UInt8], [UInt8]) in
            var helpers: [GreenThread<Void>] = []
            // On a timeout or an error, the helpers must not outlive the call (a later
            // communicate would find their waits still registered).
            defer { for helper in helpers { helper.cancel() } }
            let writer = spawn(name: "stdin writer") { () async throws -> Void in
                defer { stdin?.close() }
                if let stdin, !input.isEmpty {
                    do { try await stdin.sendAll(input) } catch SocketError.system(_, EPIPE) {}
                }
            }
            helpers.append(writer)
            let errors = spawn(name: "stderr reader") { () async throws -> [UInt8] in
                guard let stderr else { return [] }
                return try await readToEnd(stderr)
            }
            defer { errors.cancel() }
            let output = stdout == nil ? [] : try await readToEnd(stdout!)
            let errorOutput = try await errors.wait()
            try await writer.wait()
            return (try await self.wait(), output, errorOutput)
        }
        let (status, output, error) = try await withTimeout(timeout, work)
        return (status, output, error)
    }

    /// Runs `command` to completion and returns its exit status and output.
    public static func run(
        _ command: [String], input: [UInt8] = [], timeout: Duration? = nil
    ) async throws -> (status: ExitStatus, output: [UInt8], error: [UInt8]) {
        let child = try ChildProcess(command)
        return try await child.communicate(input: input, timeout: timeout)
    }
}

private func readToEnd(_ stream: GreenPipe) async throws -> [UInt8] {
    var all: [UInt8] = []
    while true {
        let chunk = try await stream.receive(maxLength: 65536)
        if chunk.isEmpty { return all }
        all.append(contentsOf: chunk)
    }
}

/// Carries the child to libuv's exit callback (weakly: a dropped ChildProcess is not kept alive).
private final class ExitBox {
    weak var child: ChildProcess?
}

/// Calls `body` with a NULL-terminated C array of `strings` (or NULL for nil).
private func withCStrings<T>(_ strings: [String]?, _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    let copies = (strings ?? []).map { strdup($0) } + [nil]
    defer { for copy in copies { free(copy) } }
    var array = copies
    return array.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

extension Optional where Wrapped == String {
    func withOptionalCString<T>(_ body: (UnsafePointer<CChar>?) -> T) -> T {
        switch self {
        case .some(let string): string.withCString { body($0) }
        case .none: body(nil)
        }
    }
}
