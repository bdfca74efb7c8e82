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
        let stdio = try ChildStdio([stdinMode, stdoutMode, stderrMode])
        // The child has its own copies once spawned (and none if spawning failed).
        defer { stdio.closeChildEnds() }
        let (process, box) = try Self.launch(
            command, environment: environment, workingDirectory: workingDirectory, stdio: stdio.childFDs, loop: hub.loop
        )
        handle = process
        pid = process.pointee.pid
        standardInput = stdio.ours[0]
        standardOutput = stdio.ours[1]
        standardError = stdio.ours[2]
        box.takeUnretainedValue().child = self
    }

    /// Allocates a libuv process handle and starts `command` on it, the child inheriting `stdio` as
    /// its standard streams. The returned box is retained until the exit callback, which frees the
    /// handle. On failure the handle is closed and freed, the box released, and the error thrown.
    private static func launch(
        _ command: [String], environment: [String: String]?, workingDirectory: String?, stdio: [Int32],
        loop: UnsafeMutablePointer<uv_loop_t>
    ) throws -> (UnsafeMutablePointer<uv_process_t>, Unmanaged<ExitBox>) {
        let process = UnsafeMutablePointer<uv_process_t>.allocate(capacity: 1)
        let box = Unmanaged.passRetained(ExitBox())
        process.pointee.data = box.toOpaque()
        let status: Int32 = withCStrings(command) { argv in
            withCStrings(environment.map { $0.map { "\($0.key)=\($0.value)" } }) { envp in
                var containers = stdio.map { fd -> uv_stdio_container_t in
                    var container = uv_stdio_container_t()
                    container.flags = UV_INHERIT_FD
                    container.data.fd = fd
                    return container
                }
                return containers.withUnsafeMutableBufferPointer { containers in
                    var options = processOptions(argv: argv, envp: environment == nil ? nil : envp, stdio: containers)
                    return workingDirectory.withOptionalCString { cwd in
                        options.cwd = cwd
                        return uv_spawn(loop, process, &options)
                    }
                }
            }
        }
        guard status == 0 else {
            // libuv initialised the handle even so: it must be closed, and is freed once closed.
            box.release()
            process.pointee.data = nil
            closeAndFree(process)
            throw SocketError.system("spawn \(command[0])", -status)
        }
        return (process, box)
    }

    /// The options of `uv_spawn` but the working directory: the program `argv[0]` (looked up in
    /// `PATH`), its arguments and environment (nil: this process's), its standard streams, and the
    /// exit callback, which reports the status to the ``ExitBox`` in the handle's data and frees
    /// the handle.
    private static func processOptions(
        argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>,
        envp: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        stdio: UnsafeMutableBufferPointer<uv_stdio_container_t>
    ) -> uv_process_options_t {
        var options = uv_process_options_t()
        options.exit_cb = { process, exitStatus, termSignal in
            let box = Unmanaged<ExitBox>.fromOpaque(process!.pointee.data).takeRetainedValue()
            box.child?.exited(status: termSignal != 0 ? .signaled(termSignal) : .exited(Int32(exitStatus)))
            closeAndFree(process!)
        }
        options.file = UnsafePointer(argv[0])
        options.args = argv
        options.env = envp
        options.stdio_count = Int32(stdio.count)
        options.stdio = stdio.baseAddress
        return options
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
            hub.nextWaitLabel.pointee = "child process exit"
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
        let stdin = standardInput
        let stdout = standardOutput
        let stderr = standardError
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

/// Closes a libuv process handle and frees it once libuv is done with it.
private func closeAndFree(_ process: UnsafeMutablePointer<uv_process_t>) {
    process.withMemoryRebound(to: uv_handle_t.self, capacity: 1) { handle in
        uv_close(handle) { $0!.withMemoryRebound(to: uv_process_t.self, capacity: 1) { $0.deallocate() } }
    }
}

/// The standard streams of a child about to start: our green ends of its pipes, and the
/// descriptors the child inherits (0, 1 and 2 themselves for `.inherit`).
private struct ChildStdio {
    /// Our end of each `.pipe` stream; nil for the others.
    private(set) var ours: [GreenPipe?] = [nil, nil, nil]
    /// What the child gets as its standard input, output and error.
    private(set) var childFDs: [Int32] = [-1, -1, -1]
    /// The descriptors opened for the child only: ``closeChildEnds()`` closes them.
    private var opened: [Int32] = []

    /// Opens what each mode asks for. On failure nothing stays open: the descriptors opened for
    /// the child are closed here, and our ends are green pipes, closed when released.
    init(_ modes: [ChildProcess.Stdio]) throws {
        do {
            for (index, mode) in modes.enumerated() { try connect(index, mode) }
        } catch {
            closeChildEnds()
            throw error
        }
    }

    private mutating func connect(_ index: Int, _ mode: ChildProcess.Stdio) throws {
        switch mode {
        case .inherit:
            childFDs[index] = Int32(index)
        case .discard:
            let null = open("/dev/null", index == 0 ? O_RDONLY : O_WRONLY)
            guard null >= 0 else { throw SocketError.system("open /dev/null", errno) }
            opened.append(null)
            childFDs[index] = null
        case .pipe:
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { throw SocketError.system("pipe", errno) }
            // The child reads its input from the read end and writes its output to the write end.
            let (mine, child) = index == 0 ? (fds[1], fds[0]) : (fds[0], fds[1])
            opened.append(child)
            childFDs[index] = child
            _ = fcntl(mine, F_SETFD, FD_CLOEXEC)
            do { ours[index] = try GreenPipe(adopting: mine) } catch {
                Glibc.close(mine)
                throw error
            }
        }
    }

    /// Closes the descriptors opened for the child (its copies are its own once it is spawned).
    func closeChildEnds() { for fd in opened { Glibc.close(fd) } }
}

/// Calls `body` with a NULL-terminated C array of `strings` (or NULL for nil).
private func withCStrings<T>(_ strings: [String]?, _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T)
    -> T
{
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
