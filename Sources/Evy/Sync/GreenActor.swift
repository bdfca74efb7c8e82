/// An object with a green thread of its own and a mailbox (Eventlet's `coros.Actor`): other green
/// threads ``cast(_:)`` messages to it without waiting, and its `received` handler processes them in
/// order, up to `concurrency` at a time.
///
/// ```swift
/// let logger = GreenActor<String> { line in
///     try await sleep(for: .milliseconds(1))   // slow work does not hold up senders
///     print(line)
/// }
/// logger.cast("hello")
/// try await logger.waitUntilIdle()
/// ```
/// An error thrown by `received` is logged (logger `evy.spawn`) and the actor goes on with the
/// next message. Hub-confined.
public final class GreenActor<Message: Sendable>: @unchecked Sendable {
    private let mailbox = Queue<Message>()
    private let pool: GreenPool
    private let received: @Sendable (Message) async throws -> Void
    private var loop: Task<Void, Never>?

    /// Creates an actor that runs `received` for each message, at most `concurrency` at once
    /// (1: strictly one after the other).
    public init(concurrency: Int = 1, received: @escaping @Sendable (Message) async throws -> Void) {
        precondition(concurrency >= 1, "an actor processes at least one message at a time")
        pool = GreenPool(size: concurrency)
        self.received = received
        let hub = Hub.current
        hub.assertOnHubThread("GreenActor.init")
        let mailbox = self.mailbox
        let pool = self.pool
        loop = Task(name: "actor", executorPreference: hub.greenThreadPreference) {
            await hub.runGreenTask(context: GreenContext(name: "actor", pool: nil)) {
                while let message = try? await mailbox.get() {
                    do {
                        try await pool.spawnN {
                            defer { try? mailbox.taskDone() }
                            try await received(message)
                        }
                    } catch {
                        try? mailbox.taskDone()  // stopped while waiting for a slot: dropped
                    }
                }
            }
        }
    }

    deinit { loop?.cancel() }

    /// Puts `message` in the mailbox and returns at once.
    public func cast(_ message: Message) {
        try? mailbox.putNowait(message)  // an unbounded queue never refuses
    }

    /// Messages cast and not yet fully processed.
    public var pending: Int { mailbox.unfinishedTasks }

    /// Waits until every message cast so far has been processed.
    public func waitUntilIdle(timeout: Duration? = nil) async throws {
        try await mailbox.join(timeout: timeout)
    }

    /// Stops the actor: messages not yet started are dropped (``waitUntilIdle(timeout:)`` does
    /// not wait for them); running ones finish.
    public func stop() {
        loop?.cancel()
        loop = nil
        while (try? mailbox.getNowait()) != nil { try? mailbox.taskDone() }
    }
}
