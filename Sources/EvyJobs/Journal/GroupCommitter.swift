import Evy
import Foundation

/// One SQLite database written by one thread of its own, off the hub, in group commits:
/// whatever operations are queued when the thread is free run in one transaction (at most
/// `maxBatch`), and their completions then run on the hub in one hop. Under load batches grow
/// by themselves; when idle a lone operation commits at once. A failed batch (a full disk) is
/// rolled back and each of its operations completes with the error; the next batch is tried
/// afresh, so the journal recovers when space returns. Reads go through a second, read-only
/// connection on the calling thread (WAL lets it read beside the writer).
final class GroupCommitter: @unchecked Sendable {
    private struct Pending {
        /// Runs the operation inside the transaction; returns how to complete it once committed.
        let run: (SQLiteDatabase) throws -> @Sendable () -> Void
        let fail: @Sendable (JournalError) -> Void
    }

    let path: String
    private let hub: Hub
    private let writer: SQLiteDatabase
    private var reader: SQLiteDatabase?
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var closing = false
    private let finished = DispatchSemaphore(value: 0)
    private let maxBatch = 4096
    private var commitCount = 0

    /// Opens (creating) the database at `path`, runs `schema` on it, and starts the writer thread.
    init(path: String, synchronous: JournalSynchronous, hub: Hub, schema: String) throws {
        self.path = path
        self.hub = hub
        writer = try SQLiteDatabase(path: path, synchronous: synchronous)
        try writer.execute(schema)
        let thread = Thread { [self] in loop() }
        thread.name = "evy-journal"
        thread.start()
    }

    /// Transactions committed so far (a measure of batching).
    var commits: Int {
        condition.lock()
        defer { condition.unlock() }
        return commitCount
    }

    /// Queues `work`; `completion` runs on the hub after the batch holding it commits, or with
    /// the error if it could not. Never waits.
    func enqueue<T: Sendable>(_ work: @escaping (SQLiteDatabase) throws -> T,
                              completion: @escaping @Sendable (Result<T, JournalError>) -> Void) {
        let pending = Pending(run: { database in
            let value = try work(database)
            return { completion(.success(value)) }
        }, fail: { error in completion(.failure(error)) })
        condition.lock()
        if closing {
            condition.unlock()
            return completion(.failure(.closed))
        }
        queue.append(pending)
        if queue.count == 1 { condition.signal() }
        condition.unlock()
    }

    /// Runs `body` on the read-only connection, on the calling thread (blocking it briefly).
    func read<T>(_ body: (SQLiteDatabase) throws -> T) throws -> T {
        if reader == nil { reader = try SQLiteDatabase(path: path, synchronous: .normal, readOnly: true) }
        return try body(reader!)
    }

    /// Lets the queued operations commit, then stops the thread. Later enqueues fail `.closed`.
    func close() {
        condition.lock()
        let already = closing
        closing = true
        condition.signal()
        condition.unlock()
        if !already { finished.wait() }
        reader = nil
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !closing { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                break
            }
            let batch = Array(queue.prefix(maxBatch))
            queue.removeFirst(batch.count)
            condition.unlock()
            commit(batch)
        }
        finished.signal()
    }

    private func commit(_ batch: [Pending]) {
        var completions: [@Sendable () -> Void] = []
        completions.reserveCapacity(batch.count)
        do {
            try writer.execute("BEGIN IMMEDIATE")
            for pending in batch { completions.append(try pending.run(writer)) }
            try writer.execute("COMMIT")
            condition.lock()
            commitCount += 1
            condition.unlock()
            let done = completions
            _ = hub.callFromThread { for completion in done { completion() } }
        } catch {
            try? writer.execute("ROLLBACK")
            let failure = error as? JournalError ?? .sqlite(path: path, code: -1, message: "\(error)")
            let fails = batch.map(\.fail)
            _ = hub.callFromThread { for fail in fails { fail(failure) } }
        }
    }
}
