import CSQLite
import Evy
import Foundation
import Logging
import Metrics
import Synchronization

private let logger = Logger(label: "evy.jobs.journal")

/// Owns one ``SQLiteDatabase`` and writes to it on a dedicated thread (never a hub's), in group
/// commits: the thread takes every operation queued while the previous commit ran (at most
/// ``maximumBatch``), runs them in one `BEGIN IMMEDIATE … COMMIT`, then hands every completion of
/// the batch to its hub in one `callFromThread` hop per hub.
///
/// Failure: an operation that throws a statement-level error (a constraint, ``JournalError/other(_:_:)``)
/// fails alone and the batch goes on, so operations must fail at their first write or not at all
/// (every operation here is a single write, or reads then one write). An error that spoils the
/// transaction (disk full, I/O, corruption, or a failed COMMIT) rolls the batch back and every
/// operation of it gets that error; the next batch starts afresh, so writes succeed again once the
/// cause is gone. After ``close()`` new operations fail with `SQLITE_MISUSE`.
///
/// Thread-safe: any thread may enqueue or read.
final class GroupCommitter: @unchecked Sendable {
    /// The most operations one commit takes.
    static let maximumBatch = 4096

    let path: String
    private let database: SQLiteDatabase
    /// Checkpoints the WAL off the commit path.
    let checkpointer: Checkpointer
    /// Serializes use of `database` between the commit thread and ``read(_:)``.
    private let databaseLock = NSLock()
    private let queueCondition = NSCondition()
    private var queue: [PendingOperation] = []
    private var closing = false
    private var thread: pthread_t?
    private let commitCount = Atomic<Int>(0)
    /// Each committed batch's time from BEGIN to COMMIT (`evy_journal_commit_seconds`).
    private let commitTimer: Metrics.Timer?

    /// How many batches were committed (tests check that operations really are grouped).
    var commits: Int { commitCount.load(ordering: .relaxed) }

    /// Takes `database` over and starts the commit thread and its ``Checkpointer``. Throws
    /// ``JournalError`` if the checkpointer's connection cannot be opened.
    init(database: SQLiteDatabase, commitTimer: Metrics.Timer? = nil) throws(JournalError) {
        self.database = database
        self.commitTimer = commitTimer
        checkpointer = try Checkpointer(for: database)
        self.path = database.path
        thread = startJournalThread { [self] in run() }
    }

    /// Queues `operation` for the next commit. `completion` (if any) runs on `hub`'s thread once the
    /// batch is committed, with the operation's value, or with the error that failed it or its batch.
    func enqueue<T: Sendable>(
        _ operation: @escaping @Sendable (SQLiteDatabase) throws -> T,
        on hub: Hub,
        completion: (@Sendable (Result<T, JournalError>) -> Void)?
    ) {
        let pending = TypedOperation(operation, hub: hub, completion: completion)
        queueCondition.lock()
        guard !closing else {
            queueCondition.unlock()
            pending.fail(.other(SQLITE_MISUSE, "\(path): the journal is closed"))
            deliver([pending])
            return
        }
        queue.append(pending)
        if queue.count == 1 { queueCondition.signal() }
        queueCondition.unlock()
    }

    /// Runs `body` on the caller's thread with the database, between commits (it waits for a
    /// running one). For start-up loading and inspection: it blocks its caller.
    func read<T>(_ body: (SQLiteDatabase) throws(JournalError) -> T) throws(JournalError) -> T {
        databaseLock.lock()
        defer {
            database.resetStatements()
            databaseLock.unlock()
        }
        return try body(database)
    }

    /// Commits what is queued, stops the thread, waits for it and closes the database. Idempotent.
    func close() {
        queueCondition.lock()
        closing = true
        queueCondition.signal()
        let thread = self.thread
        self.thread = nil
        queueCondition.unlock()
        if let thread { pthread_join(thread, nil) }
    }

    // MARK: The commit thread

    private func run() {
        while let batch = nextBatch() {
            databaseLock.lock()
            commit(batch)
            databaseLock.unlock()
            deliver(batch)
        }
        databaseLock.lock()
        database.close()
        databaseLock.unlock()
        checkpointer.close()
    }

    /// Waits for work; nil once closing and drained.
    private func nextBatch() -> [PendingOperation]? {
        queueCondition.lock()
        defer { queueCondition.unlock() }
        while queue.isEmpty && !closing { queueCondition.wait() }
        if queue.isEmpty { return nil }
        if queue.count <= Self.maximumBatch {
            defer { queue = [] }
            return queue
        }
        let batch = Array(queue.prefix(Self.maximumBatch))
        queue.removeFirst(Self.maximumBatch)
        return batch
    }

    private func commit(_ batch: [PendingOperation]) {
        let started = ContinuousClock.now
        do throws(JournalError) {
            try database.statement("BEGIN IMMEDIATE").step()
            for operation in batch {
                do throws(JournalError) {
                    try operation.run(database)
                } catch {
                    if error.spoilsBatch || database.isAutocommit { throw error }
                    operation.fail(error)
                }
            }
            database.resetStatements()
            try database.statement("COMMIT").step()
            commitCount.add(1, ordering: .relaxed)
            commitTimer?.record(duration: ContinuousClock.now - started)
        } catch {
            if !database.isAutocommit { _ = try? database.statement("ROLLBACK").step() }
            for operation in batch { operation.fail(error) }
        }
    }

    /// Hands the completions to their hubs: one hop per hub (a batch usually has a single one).
    /// A failed operation nobody waits for is logged here.
    private func deliver(_ batch: [PendingOperation]) {
        for operation in batch where !operation.hasCompletion {
            if let error = operation.failure { logger.error("a journal write failed: \(error)") }
        }
        var remaining = batch.filter(\.hasCompletion)
        while let hub = remaining.first?.hub {
            let mine = remaining.filter { $0.hub === hub }
            remaining.removeAll { $0.hub === hub }
            let handOver = Handover(mine)
            hub.callFromThread { for operation in handOver.operations { operation.complete() } }
        }
    }
}

/// A batch's operations passing from the commit thread to a hub, which alone touches them then.
private struct Handover: @unchecked Sendable {
    let operations: [PendingOperation]
    init(_ operations: [PendingOperation]) { self.operations = operations }
}

/// An operation with its result type erased. Touched by the commit thread, then by its hub.
private class PendingOperation {
    let hub: Hub
    init(hub: Hub) { self.hub = hub }
    var hasCompletion: Bool { false }
    var failure: JournalError? { nil }
    func run(_ database: SQLiteDatabase) throws(JournalError) {}
    func fail(_ error: JournalError) {}
    func complete() {}
}

private final class TypedOperation<T: Sendable>: PendingOperation {
    private let operation: @Sendable (SQLiteDatabase) throws -> T
    private let completion: (@Sendable (Result<T, JournalError>) -> Void)?
    private var result: Result<T, JournalError>?

    init(
        _ operation: @escaping @Sendable (SQLiteDatabase) throws -> T, hub: Hub,
        completion: (@Sendable (Result<T, JournalError>) -> Void)?
    ) {
        self.operation = operation
        self.completion = completion
        super.init(hub: hub)
    }

    override var hasCompletion: Bool { completion != nil }

    override var failure: JournalError? {
        if case .failure(let error) = result { return error }
        return nil
    }

    override func run(_ database: SQLiteDatabase) throws(JournalError) {
        do {
            result = .success(try operation(database))
        } catch {
            throw JournalError(error, path: database.path)
        }
    }

    override func fail(_ error: JournalError) { result = .failure(error) }

    override func complete() { completion?(result ?? .failure(.other(SQLITE_MISUSE, "operation never ran"))) }
}
