import Evy
import Foundation
import Metrics

/// One job's recorded outcome, as the collector stores it. A value; `Sendable`.
public struct StoredResult: Sendable, Equatable {
    /// The job.
    public var job: UInt64
    /// The attempt whose result this is (the first to arrive).
    public var attempt: UInt32
    /// The handler that ran it.
    public var handler: String
    /// How it ended.
    public var status: JobStatus
    /// The handler's output, or the error text.
    public var payload: [UInt8]
    /// How long the attempt ran.
    public var durationMicroseconds: UInt64
    /// When it was recorded (Unix milliseconds).
    public var recordedAt: UInt64
    /// Its place in recording order, increasing (for paging); 0 until recorded.
    public var seq: Int64

    /// A result with every field given.
    public init(
        job: UInt64, attempt: UInt32, handler: String, status: JobStatus, payload: [UInt8],
        durationMicroseconds: UInt64, recordedAt: UInt64, seq: Int64 = 0
    ) {
        self.job = job
        self.attempt = attempt
        self.handler = handler
        self.status = status
        self.payload = payload
        self.durationMicroseconds = durationMicroseconds
        self.recordedAt = recordedAt
        self.seq = seq
    }
}

/// The collector's durable record of results: the file `collector.sqlite3` in a directory, in WAL
/// mode. A job id is recorded once: the first attempt to arrive wins, later ones are ignored.
///
/// Concurrency: any thread may call any method. Writes and ``lookup(jobs:completion:)`` are queued
/// on a ``GroupCommitter`` (its own thread, group commits, in call order); their completions run
/// on the hub given to ``init(directory:synchronous:hub:)``, one hop per batch. ``page(after:limit:)``
/// and ``count()`` read on a second, read-only connection (WAL lets it read while a commit runs)
/// and block their caller for the read only; ``unacknowledged()`` blocks while a commit runs.
///
/// Failure: a full disk or an I/O error fails the whole batch it hits (nothing of it is written)
/// with ``JournalError``; the store stays usable and later writes succeed once space is back.
/// An acknowledgement without a completion that fails is logged (label `evy.jobs.journal`).
public final class CollectorStore: @unchecked Sendable {
    /// The database file.
    public let path: String
    private let committer: GroupCommitter
    private let hub: Hub
    private let reader: SQLiteDatabase
    private let readerLock = NSLock()

    private static let schema = """
        CREATE TABLE IF NOT EXISTS results(
            job INTEGER PRIMARY KEY, seq INTEGER NOT NULL UNIQUE, attempt INTEGER NOT NULL,
            handler TEXT NOT NULL, status INTEGER NOT NULL, payload BLOB NOT NULL,
            duration_us INTEGER NOT NULL, recorded_at INTEGER NOT NULL, acked INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS results_unacked ON results(job) WHERE acked = 0;
        """
    private static let columns = "job, attempt, handler, status, payload, duration_us, recorded_at, seq"

    /// Opens (creating it if needed) `directory`/collector.sqlite3, whose completions run on `hub`.
    /// Throws ``JournalError`` if the file cannot be opened or its table created.
    public init(
        directory: String, synchronous: JournalSynchronous = .normal, hub: Hub, commitTimer: Metrics.Timer? = nil
    ) throws(JournalError) {
        path = directory + "/collector.sqlite3"
        let database = try SQLiteDatabase(path: path, synchronous: synchronous)
        try database.execute(Self.schema)
        reader = try SQLiteDatabase(path: path, readOnly: true)
        committer = try GroupCommitter(database: database, commitTimer: commitTimer)
        self.hub = hub
    }

    deinit { close() }

    /// Commits what is queued, then closes the files; later writes fail with
    /// ``JournalError/other(_:_:)`` `SQLITE_MISUSE`. Blocks until the last commit is done. Idempotent.
    public func close() {
        committer.close()
        readerLock.withLock { reader.close() }
    }

    /// Batches committed so far (for tests and statistics).
    var commits: Int { committer.commits }

    // MARK: Writing

    /// Records `results`, skipping job ids already recorded (and repeats within `results`: the
    /// first wins); `seq` of the input is ignored. The completion gets, per result, whether it was
    /// new, once committed; or the error that failed the batch (then none was recorded).
    public func record(
        _ results: [StoredResult], completion: @escaping @Sendable (Result<[Bool], JournalError>) -> Void
    ) {
        committer.enqueue(
            { database throws(JournalError) -> [Bool] in
                let insert = try database.statement(
                    """
                    INSERT INTO results(job, seq, attempt, handler, status, payload, duration_us, recorded_at)
                    VALUES(?1, (SELECT ifnull(max(seq), 0) + 1 FROM results), ?2, ?3, ?4, ?5, ?6, ?7)
                    ON CONFLICT(job) DO NOTHING
                    """)
                var new: [Bool] = []
                new.reserveCapacity(results.count)
                for result in results {
                    insert.bind(1, result.job)
                    insert.bind(2, Int64(result.attempt))
                    insert.bind(3, result.handler)
                    insert.bind(4, Int64(result.status.rawValue))
                    insert.bind(5, result.payload)
                    insert.bind(6, result.durationMicroseconds)
                    insert.bind(7, result.recordedAt)
                    try insert.step()
                    new.append(database.changes == 1)
                    insert.reset()
                }
                return new
            }, on: hub, completion: completion)
    }

    /// Notes that the dispatcher acknowledged the DONE of `jobs`: they are no longer re-sent.
    public func markAcknowledged(jobs: [UInt64], completion: (@Sendable (Result<Void, JournalError>) -> Void)? = nil) {
        // Untyped `throws` here: a typed-throws closure returning Void crashes Swift 6.3's SIL
        // checker when converted to the committer's untyped operation.
        committer.enqueue(
            { database in
                let update = try database.statement("UPDATE results SET acked = 1 WHERE job = ?1 AND acked = 0")
                for job in jobs {
                    update.bind(1, job)
                    try update.step()
                    update.reset()
                }
            }, on: hub, completion: completion)
    }

    // MARK: Reading

    /// The recorded results among `jobs` (in `jobs`' order, unrecorded ones left out), read after
    /// every write queued before it. The completion runs on the hub.
    public func lookup(jobs: [UInt64], completion: @escaping @Sendable (Result<[StoredResult], JournalError>) -> Void) {
        committer.enqueue(
            { database throws(JournalError) -> [StoredResult] in
                let select = try database.statement("SELECT \(Self.columns) FROM results WHERE job = ?1")
                var found: [StoredResult] = []
                for job in jobs {
                    select.bind(1, job)
                    if try select.step() { found.append(Self.result(at: select)) }
                    select.reset()
                }
                return found
            }, on: hub, completion: completion)
    }

    /// Every recorded result whose DONE the dispatcher has not acknowledged, by job id (to re-send
    /// at start-up). Blocks while a commit runs.
    public func unacknowledged() throws(JournalError) -> [Completion] {
        try committer.read { database throws(JournalError) in
            var completions: [Completion] = []
            try database.statement("SELECT job, attempt, status FROM results WHERE acked = 0 ORDER BY job")
                .forEachRow { row in
                    completions.append(
                        Completion(
                            lease: Lease(job: row.uint64(0), attempt: UInt32(truncatingIfNeeded: row.int64(1))),
                            status: JobStatus(rawValue: UInt8(truncatingIfNeeded: row.int64(2))) ?? .failed))
                }
            return completions
        }
    }

    /// At most `limit` results recorded after `seq` (0: from the first), in recording order.
    /// Reads committed data on the read-only connection.
    public func page(after seq: Int64, limit: Int) throws(JournalError) -> [StoredResult] {
        try readOnly { reader throws(JournalError) -> [StoredResult] in
            let select = try reader.statement(
                "SELECT \(Self.columns) FROM results WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            select.bind(1, seq)
            select.bind(2, limit)
            var results: [StoredResult] = []
            try select.forEachRow { row in results.append(Self.result(at: row)) }
            select.reset()
            return results
        }
    }

    /// How many results are recorded (committed ones). Reads on the read-only connection.
    public func count() throws(JournalError) -> Int {
        try readOnly { reader throws(JournalError) -> Int in
            let select = try reader.statement("SELECT count(*) FROM results")
            defer { select.reset() }
            return try select.step() ? select.int(0) : 0
        }
    }

    private func readOnly<T>(_ body: (SQLiteDatabase) throws(JournalError) -> T) throws(JournalError) -> T {
        readerLock.lock()
        defer { readerLock.unlock() }
        return try body(reader)
    }

    private static func result(at row: Statement) -> StoredResult {
        StoredResult(
            job: row.uint64(0), attempt: UInt32(truncatingIfNeeded: row.int64(1)), handler: row.text(2),
            status: JobStatus(rawValue: UInt8(truncatingIfNeeded: row.int64(3))) ?? .failed, payload: row.blob(4),
            durationMicroseconds: row.uint64(5), recordedAt: row.uint64(6), seq: row.int64(7))
    }
}
