import Foundation
import Logging
import Synchronization

/// Reports green threads that hold the hub too long without yielding: the symptom of a blocking
/// call (a `usleep`, a synchronous file read, a long computation) that belongs in ``tpool``.
///
/// Off by default. Turn it on for a process with the environment variable
/// `EVY_BLOCKING_DETECTOR_MS=100`, or for one hub with ``Hub/detectBlocking(threshold:report:)``.
/// A watchdog thread notices the stall while it lasts and reports it once, naming the green thread.
public struct BlockingReport: Sendable, CustomStringConvertible {
    /// The name of the green thread that held the hub (its ``GreenThread/name``), if it had one.
    public let greenThread: String?
    /// How long the hub had been held when the report was made.
    public let heldFor: Duration
    /// The threshold that was exceeded.
    public let threshold: Duration

    public var description: String {
        "evy: the hub was blocked for more than \(heldFor) (threshold \(threshold)) by green thread "
            + (greenThread.map { "'\($0)'" } ?? "<unnamed>")
            + "; move blocking calls to tpool.execute"
    }
}

@usableFromInline
final class BlockingDetector: @unchecked Sendable {
    static var thresholdFromEnvironment: Duration? {
        threshold(fromEnvironment: ProcessInfo.processInfo.environment)
    }

    /// `EVY_BLOCKING_DETECTOR_MS` as a threshold, if it is a positive number of milliseconds.
    static func threshold(fromEnvironment environment: [String: String]) -> Duration? {
        guard let text = environment["EVY_BLOCKING_DETECTOR_MS"], let ms = Double(text), ms > 0 else {
            return nil
        }
        return .milliseconds(ms)
    }

    private static let logger = Logger(label: "evy.hub.blocking")

    let threshold: Duration
    private let report: @Sendable (BlockingReport) -> Void
    /// Nanoseconds (monotonic) at which the running job started, or 0 while the hub is idle.
    private let jobStarted = Atomic<Int64>(0)
    /// Incremented per job, so the watchdog reports each stall once.
    private let jobSerial = Atomic<UInt64>(0)
    private let active = Atomic<Bool>(false)
    private let retired = Atomic<Bool>(false)
    private let currentName = Mutex<String?>(nil)
    private let reportCount = Atomic<Int>(0)
    /// Stalls reported so far.
    var reports: Int { reportCount.load(ordering: .relaxed) }
    private var watchdogStarted = false

    init(hub: Hub, threshold: Duration, report: (@Sendable (BlockingReport) -> Void)? = nil) {
        self.threshold = threshold
        self.report = report ?? { BlockingDetector.logger.warning("\($0.description)") }
    }

    private static func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    @inline(__always)
    func willRun(_ work: Hub.Work) {
        jobSerial.add(1, ordering: .relaxed)
        jobStarted.store(Self.monotonicNanoseconds(), ordering: .releasing)
    }

    @inline(__always)
    func didRun() {
        jobStarted.store(0, ordering: .releasing)
    }

    /// Records the name of the green thread about to run; called by green threads as they resume
    /// from a park when the detector is on.
    @usableFromInline
    func running(_ name: String?) {
        currentName.withLock { $0 = name }
    }

    func start() {
        active.store(true, ordering: .releasing)
        guard !watchdogStarted else { return }
        watchdogStarted = true
        let thread = Thread { [self] in watch() }
        thread.name = "evy-blocking-detector"
        thread.start()
    }

    func pause() {
        active.store(false, ordering: .releasing)
    }

    /// Ends the watchdog thread for good.
    func retire() {
        active.store(false, ordering: .releasing)
        retired.store(true, ordering: .releasing)
    }

    private func watch() {
        let step = max(threshold / 4, .milliseconds(1))
        var reportedSerial: UInt64 = .max
        while !retired.load(ordering: .acquiring) {
            Thread.sleep(forTimeInterval: Double(step.components.seconds) + Double(step.components.attoseconds) / 1e18)
            guard active.load(ordering: .acquiring) else { continue }
            let started = jobStarted.load(ordering: .acquiring)
            guard started != 0 else { continue }
            let serial = jobSerial.load(ordering: .relaxed)
            let held = Duration.nanoseconds(Self.monotonicNanoseconds() - started)
            if held > threshold && serial != reportedSerial {
                reportedSerial = serial
                reportCount.add(1, ordering: .relaxed)
                let name = currentName.withLock { $0 }
                report(BlockingReport(greenThread: name, heldFor: held, threshold: threshold))
            }
        }
    }
}

extension Hub {
    /// Turns on the blocking detector for this hub: whenever one green thread holds the hub for
    /// longer than `threshold` without yielding, `report` is called once for that stall, from a
    /// watchdog thread, while the stall lasts. Without `report`, stalls are logged as warnings.
    ///
    /// ```swift
    /// Hub.main.detectBlocking(threshold: .milliseconds(50)) { print($0) }
    /// ```
    public func detectBlocking(
        threshold: Duration, report: (@Sendable (BlockingReport) -> Void)? = nil
    ) {
        assertOnHubThreadOrUnbound()
        blockingDetector?.retire()
        blockingDetector = BlockingDetector(hub: self, threshold: threshold, report: report)
        if isRunning { blockingDetector?.start() }
    }

    /// Turns the blocking detector off.
    public func stopDetectingBlocking() {
        blockingDetector?.retire()
        blockingDetector = nil
    }

    func assertOnHubThreadOrUnbound() {
        precondition(isOnHubThread || !isRunning, "configure a running hub from its own thread")
    }
}
