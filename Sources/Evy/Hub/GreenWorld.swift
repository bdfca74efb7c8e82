@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency

/// "Green the world" mode: Swift's main and default executors become the main ``Hub``, so every
/// `Task {}`, `Task.detached`, task group child, `async let`, `Task.sleep` and `@MainActor` job
/// runs on the hub as a green thread (Evy's answer to Eventlet's `monkey_patch`).
///
/// It is opt-in, per executable: in the executable's main module write
/// ```swift
/// @_spi(GreenWorld) import Evy
/// typealias DefaultExecutorFactory = GreenWorld
///
/// @main struct Server {
///     static func main() async throws { ... }   // runs on the hub
/// }
/// ```
/// and build that target with `swiftSettings: [.unsafeFlags(["-Xfrontend",
/// "-disable-availability-checking"])]`: the executor factory is experimental SPI, and on Linux
/// Swift 6.3 honours it only with availability checking off (without the flag it is silently
/// ignored). Libraries never need this mode; everything in Evy works without it.
@_spi(GreenWorld)
public struct GreenWorld: ExecutorFactory {
    /// The main hub, as Swift's main executor.
    public static var mainExecutor: any MainExecutor { Hub.main }
    /// The main hub's task executor, as Swift's default executor.
    public static var defaultExecutor: any TaskExecutor { Hub.main.taskExecutor }

    /// Whether this process runs in green-the-world mode.
    public static var isActive: Bool { Hub.isGreenWorld }
}

extension Hub {
    static var isGreenWorld: Bool {
        (MainActor.executor as AnyObject) === Hub.main
    }
}

@_spi(ExperimentalCustomExecutors)
extension Hub: MainExecutor {
    /// Runs the loop until ``stop()`` (the main executor's run loop in green-the-world mode; the
    /// same as ``runForever()``).
    @_spi(ExperimentalCustomExecutors)
    public func run() throws {
        runForever()
    }

    /// Runs the loop until `condition` holds or ``stop()`` is called.
    @_spi(ExperimentalCustomExecutors)
    public func runUntil(_ condition: () -> Bool) throws {
        runLoop(keepAlive: true, until: condition)
    }
}

@_spi(ExperimentalScheduling)
extension Hub: SchedulingExecutor {
    /// Runs `job` on the hub once `delay` has passed on `clock` (what `Task.sleep` uses in
    /// green-the-world mode).
    @_spi(ExperimentalScheduling)
    public func enqueue<C: Clock>(
        _ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C
    ) {
        scheduleLater(.serialJob(UnownedJob(job)), after: delay)
    }

    /// Runs `job` on the hub once `clock` reaches `instant`.
    @_spi(ExperimentalScheduling)
    public func enqueue<C: Clock>(
        _ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C
    ) {
        scheduleLater(.serialJob(UnownedJob(job)), after: clock.now.duration(to: instant))
    }

    func scheduleLater<D: DurationProtocol>(_ work: Work, after delay: D) {
        let duration = (delay as? Duration) ?? .zero
        let hubWork = UncheckedWork(work)
        if isOnHubThread {
            callLater(duration) { self.schedule(hubWork.work) }
        } else {
            callFromThread { self.callLater(duration) { self.schedule(hubWork.work) } }
        }
    }
}

@_spi(ExperimentalScheduling)
extension HubTaskExecutor: SchedulingExecutor {
    /// Runs `job` on the hub once `delay` has passed on `clock`.
    @_spi(ExperimentalScheduling)
    public func enqueue<C: Clock>(
        _ job: consuming ExecutorJob, after delay: C.Duration, tolerance: C.Duration?, clock: C
    ) {
        hub.scheduleLater(.taskJob(UnownedJob(job)), after: delay)
    }

    /// Runs `job` on the hub once `clock` reaches `instant`.
    @_spi(ExperimentalScheduling)
    public func enqueue<C: Clock>(
        _ job: consuming ExecutorJob, at instant: C.Instant, tolerance: C.Duration?, clock: C
    ) {
        hub.scheduleLater(.taskJob(UnownedJob(job)), after: clock.now.duration(to: instant))
    }
}

/// A job reference carried across threads to the hub that will run it.
struct UncheckedWork: @unchecked Sendable {
    let work: Hub.Work
    init(_ work: Hub.Work) { self.work = work }
}

extension Hub {
    /// In green-the-world mode the main hub is Swift's default executor, so its green threads need
    /// no executor preference; without one the runtime skips a locked look-up of the preferred
    /// executor at every suspension and resumption.
    static let mainIsDefaultExecutor: Bool = isGreenWorld

    /// The executor preference green threads of this hub need: none when the hub is the default
    /// executor anyway.
    var greenThreadPreference: (any TaskExecutor)? {
        self === Hub.main && Hub.mainIsDefaultExecutor ? nil : taskExecutor
    }
}
