// The processes evy-bench starts (peers, servers, load generators, references), each with a
// deadline, so that no benchmark waits for ever on one.
import Dispatch
import Foundation
import Glibc

/// A process a benchmark started, its standard output on a pipe (unless passed on).
///
/// Once `seconds` have passed the process gets SIGTERM and, 2 s later if it still runs, SIGKILL,
/// by its pid: every read of its output and every wait for it then ends, and ``finish()`` throws.
/// Whoever holds the last reference stops it (``stop()`` runs on deinit), so a scenario that
/// throws leaves nothing running. Used from one thread at a time.
final class Child {
    let command: [String]
    private let process = Process()
    /// The read end of its standard output, unless that was passed on.
    private let output: FileHandle?
    private let deadline: ContinuousClock.Instant
    private let seconds: Double
    private let watchdog: DispatchWorkItem
    /// The output ``readLine(containing:)`` has read so far.
    private var unread = ""

    /// Starts `command` (looked up on PATH unless it has a `/`), pinned to `cpus` (such as `0` or
    /// `0,1`) when taskset exists. `quiet` sends its standard error to /dev/null;
    /// `passOutput` gives it that handle as standard output instead of a pipe.
    init(
        _ command: [String], cpus: String? = nil, seconds: Double, quiet: Bool = false,
        passOutput: FileHandle? = nil
    ) throws {
        self.command = command
        self.seconds = seconds
        let pinned = cpus != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = pinned ? ["taskset", "-c", cpus!] + command : command
        let pipe = Pipe()
        output = passOutput == nil ? pipe.fileHandleForReading : nil
        process.standardOutput = passOutput ?? pipe
        if quiet { process.standardError = FileHandle.nullDevice }
        try process.run()
        deadline = .now + .milliseconds(Int64(seconds * 1000))
        let (process, pid) = (process, process.processIdentifier)
        watchdog = DispatchWorkItem {
            guard process.isRunning else { return }
            kill(pid, SIGTERM)
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) { if process.isRunning { kill(pid, SIGKILL) } }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
    }

    deinit { stop() }

    /// Runs `command` to its end and returns its standard output; throws if it did not start or
    /// passed its deadline.
    static func run(_ command: [String], cpus: String? = nil, seconds: Double, quiet: Bool = false) throws -> String {
        try Child(command, cpus: cpus, seconds: seconds, quiet: quiet).finish()
    }

    /// Reads output until a line containing `marker` has arrived and returns that line, or nil if
    /// the output ended first (the process exited or was killed at its deadline).
    func readLine(containing marker: String) -> String? {
        while true {
            if let line = unread.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                .first(where: { $0.contains(marker) })
            {
                return String(line)
            }
            guard let chunk = output?.availableData, !chunk.isEmpty else { return nil }
            unread += String(decoding: chunk, as: UTF8.self)
        }
    }

    /// Reads the rest of the output, waits for the process to end and returns all its output
    /// (with what ``readLine(containing:)`` saw); throws if it was killed at its deadline.
    func finish() throws -> String {
        let rest = output?.readDataToEndOfFile() ?? Data()
        process.waitUntilExit()
        watchdog.cancel()
        let text = unread + String(decoding: rest, as: UTF8.self)
        if process.terminationReason == .uncaughtSignal, ContinuousClock.now >= deadline {
            throw BenchmarkFailure("\(name) did not end within \(Int(seconds)) s: killed")
        }
        return text
    }

    /// The exit status (or the signal that ended it), once ended.
    var status: Int32 { process.terminationStatus }

    /// Whether the process still runs.
    var isRunning: Bool { process.isRunning }

    /// The process's pid.
    var pid: Int32 { process.processIdentifier }

    /// The program's file name, for messages.
    var name: String { command.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "?" }

    /// Waits for the process to end (after a signal sent by pid).
    func waitForExit() {
        watchdog.cancel()
        process.waitUntilExit()
    }

    /// Stops the process by its pid: SIGTERM, then SIGKILL if it still runs 5 s later; waits for it.
    func stop() {
        watchdog.cancel()
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
