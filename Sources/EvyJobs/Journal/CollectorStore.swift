import Evy

/// A recorded result.
public struct StoredResult: Sendable, Equatable {
    public var job: UInt64
    public var attempt: UInt32
    public var handler: String
    public var status: JobStatus
    public var payload: [UInt8]
    public var durationMicroseconds: UInt64
    /// When it was recorded (Unix milliseconds).
    public var recordedAt: UInt64
    /// Its place in the order of recording (from 1; 0 before it is recorded).
    public var seq: Int64 = 0

    /// A result to record.
    public init(job: UInt64, attempt: UInt32, handler: String, status: JobStatus, payload: [UInt8],
                durationMicroseconds: UInt64, recordedAt: UInt64) {
        self.job = job
        self.attempt = attempt
        self.handler = handler
        self.status = status
        self.payload = payload
        self.durationMicroseconds = durationMicroseconds
        self.recordedAt = recordedAt
    }
}

/// The collector's store, `collector.sqlite3` in a directory: one row per job id (the first
/// result to arrive is kept; later attempts' results are ignored), in recording order, with
/// whether the dispatcher has acknowledged it is done. Group-committed like the dispatcher's
/// journal (see ``DispatcherJournal``); create and use it on one hub.
public final class CollectorStore: @unchecked Sendable {
    private let committer: GroupCommitter

    private static let schema = """
        CREATE TABLE IF NOT EXISTS results(
            seq INTEGER PRIMARY KEY, job INTEGER NOT NULL UNIQUE, attempt INTEGER NOT NULL, handler TEXT NOT NULL,
            status INTEGER NOT NULL, payload BLOB, duration_us INTEGER NOT NULL, recorded_at INTEGER NOT NULL,
            acked INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS results_unacked ON results(acked) WHERE acked = 0;
        """

    /// Opens (or creates) the store in `directory`; throws ``JournalError``.
    public init(directory: String, synchronous: JournalSynchronous = .normal, hub: Hub) throws {
        committer = try GroupCommitter(path: directory + "/collector.sqlite3", synchronous: synchronous, hub: hub,
                                       schema: Self.schema)
    }

    /// Commits what is queued and closes the store.
    public func close() { committer.close() }

    /// Records results; completes with, for each, whether it was new (false: that job's result
    /// was recorded before, and this one is dropped).
    public func record(_ results: [StoredResult], completion: @escaping @Sendable (Result<[Bool], JournalError>) -> Void) {
        committer.enqueue({ database in
            let insert = try database.statement("""
                INSERT INTO results(job, attempt, handler, status, payload, duration_us, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(job) DO NOTHING
                """)
            return try results.map { result in
                insert.reset()
                insert.bind(.unsigned(result.job), .integer(Int64(result.attempt)), .text(result.handler),
                            .integer(Int64(result.status.rawValue)), .blob(result.payload),
                            .unsigned(result.durationMicroseconds), .unsigned(result.recordedAt))
                try insert.run()
                return database.changes > 0
            }
        }, completion: completion)
    }

    /// Notes that the dispatcher acknowledged these jobs as done.
    public func markAcknowledged(jobs: [UInt64]) {
        guard !jobs.isEmpty else { return }
        committer.enqueue({ database in
            let update = try database.statement("UPDATE results SET acked = 1 WHERE job = ?")
            for job in jobs {
                update.reset()
                update.bind(.unsigned(job))
                try update.run()
            }
        }, completion: { _ in })
    }

    /// The results the dispatcher has not acknowledged (to tell it again after a restart).
    public func unacknowledged() throws -> [Completion] {
        try committer.read { database in
            let statement = try database.statement("SELECT job, attempt, status FROM results WHERE acked = 0")
            var completions: [Completion] = []
            while try statement.step() {
                completions.append(Completion(
                    lease: Lease(job: UInt64(bitPattern: statement.int(0)), attempt: UInt32(clamping: statement.int(1))),
                    status: JobStatus(rawValue: UInt8(clamping: statement.int(2))) ?? .succeeded))
            }
            return completions
        }
    }

    /// The recorded results among `jobs`, delivered on the hub after every write queued before.
    public func lookup(jobs: [UInt64], completion: @escaping @Sendable (Result<[StoredResult], JournalError>) -> Void) {
        committer.enqueue({ database in
            let select = try database.statement("SELECT \(Self.columns) FROM results WHERE job = ?")
            var found: [StoredResult] = []
            for job in jobs {
                select.reset()
                select.bind(.unsigned(job))
                if try select.step() { found.append(Self.result(from: select)) }
            }
            return found
        }, completion: completion)
    }

    /// Results recorded after `seq`, in order, at most `limit`.
    public func page(after seq: Int64, limit: Int) throws -> [StoredResult] {
        try committer.read { database in
            let select = try database.statement("SELECT \(Self.columns) FROM results WHERE seq > ? ORDER BY seq LIMIT ?")
            select.bind(.integer(seq), .integer(Int64(limit)))
            var rows: [StoredResult] = []
            while try select.step() { rows.append(Self.result(from: select)) }
            return rows
        }
    }

    /// Results recorded in all.
    public func count() throws -> Int {
        try committer.read { database in
            let statement = try database.statement("SELECT count(*) FROM results")
            return try statement.step() ? Int(statement.int(0)) : 0
        }
    }

    private static let columns = "job, attempt, handler, status, payload, duration_us, recorded_at, seq"

    private static func result(from row: Statement) -> StoredResult {
        var result = StoredResult(
            job: UInt64(bitPattern: row.int(0)), attempt: UInt32(clamping: row.int(1)), handler: row.text(2) ?? "",
            status: JobStatus(rawValue: UInt8(clamping: row.int(3))) ?? .succeeded, payload: row.blob(4),
            durationMicroseconds: UInt64(bitPattern: row.int(5)), recordedAt: UInt64(bitPattern: row.int(6)))
        result.seq = row.int(7)
        return result
    }
}
