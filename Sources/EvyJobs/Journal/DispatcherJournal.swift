import Evy

/// A job as the journal keeps it.
public struct StoredJob: Sendable, Equatable {
    /// Where a job is in its life, as the journal records it.
    public enum State: Int64, Sendable {
        case queued = 0, done = 1, dead = 2, cancelled = 3
    }

    public var id: UInt64
    public var handler: String
    /// Its options; `notBefore` is the time of its next attempt (a retry's backoff included).
    public var options: JobOptions
    public var payload: [UInt8]
    /// Attempts started and ended so far.
    public var attempts: UInt32
    /// Times its worker was lost while it ran.
    public var lost: UInt32
    public var state: State
    /// The last failure's text.
    public var lastError: String?
}

/// A job to be journaled.
public struct NewJob: Sendable {
    public var handler: String
    public var options: JobOptions
    public var payload: [UInt8]
    /// When it was submitted (Unix milliseconds).
    public var submittedAt: UInt64

    /// A new job.
    public init(handler: String, options: JobOptions, payload: [UInt8], submittedAt: UInt64) {
        self.handler = handler
        self.options = options
        self.payload = payload
        self.submittedAt = submittedAt
    }
}

/// What a submit did.
public enum SubmitOutcome: Sendable {
    /// Journaled as a new job.
    case accepted(StoredJob)
    /// Its dedup key belongs to an earlier job (in any state), whose id this is.
    case duplicate(jobID: UInt64)
}

/// The dispatcher's journal: every accepted job, in `dispatcher.sqlite3` in a directory (SQLite,
/// WAL). Done jobs keep their row (without payload) so that their dedup keys stay: the seen set
/// of a crawl lives on disk, not in memory.
///
/// Writes are group-committed on a thread of their own; each completion runs on `hub` after its
/// batch committed, or with a ``JournalError`` (a full disk) when nothing of the batch was
/// written. Reads (`loadPending`, `loadDead`, `counts`) run on the caller's thread. Create and use
/// it on one hub.
public final class DispatcherJournal: @unchecked Sendable {
    private let committer: GroupCommitter

    private static let schema = """
        CREATE TABLE IF NOT EXISTS jobs(
            id INTEGER PRIMARY KEY, handler TEXT NOT NULL, payload BLOB, priority INTEGER NOT NULL,
            not_before INTEGER NOT NULL, max_retries INTEGER NOT NULL, timeout_ms INTEGER NOT NULL,
            dedup_key TEXT UNIQUE, concurrency_key TEXT, concurrency_limit INTEGER NOT NULL,
            spacing_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0,
            state INTEGER NOT NULL DEFAULT 0, last_error TEXT, submitted_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, id);
        """

    private static let columns = """
        id, handler, payload, priority, not_before, max_retries, timeout_ms, dedup_key, concurrency_key,
        concurrency_limit, spacing_ms, attempts, lost, state, last_error
        """

    /// Opens (or creates) the journal in `directory`; throws ``JournalError``.
    public init(directory: String, synchronous: JournalSynchronous = .normal, hub: Hub) throws {
        committer = try GroupCommitter(path: directory + "/dispatcher.sqlite3", synchronous: synchronous, hub: hub,
                                       schema: Self.schema)
    }

    /// Commits what is queued and closes the journal.
    public func close() { committer.close() }

    /// Transactions committed so far.
    var commits: Int { committer.commits }

    // MARK: Reading

    /// Every queued job (including those that were running when the dispatcher stopped), oldest first.
    public func loadPending() throws -> [StoredJob] { try load(state: .queued, limit: Int.max) }

    /// Dead jobs, oldest first.
    public func loadDead(limit: Int) throws -> [StoredJob] { try load(state: .dead, limit: limit) }

    /// How many jobs are in each state.
    public func counts() throws -> [StoredJob.State: Int] {
        try committer.read { database in
            let statement = try database.statement("SELECT state, count(*) FROM jobs GROUP BY state")
            var counts: [StoredJob.State: Int] = [:]
            while try statement.step() {
                if let state = StoredJob.State(rawValue: statement.int(0)) { counts[state] = Int(statement.int(1)) }
            }
            return counts
        }
    }

    private func load(state: StoredJob.State, limit: Int) throws -> [StoredJob] {
        try committer.read { database in
            let statement = try database.statement(
                "SELECT \(Self.columns) FROM jobs WHERE state = ? ORDER BY id LIMIT ?")
            statement.bind(.integer(state.rawValue), .integer(Int64(min(limit, Int(Int64.max)))))
            var jobs: [StoredJob] = []
            while try statement.step() { jobs.append(Self.job(from: statement)) }
            return jobs
        }
    }

    private static func job(from row: Statement) -> StoredJob {
        var options = JobOptions()
        options.priority = UInt8(clamping: row.int(3))
        options.notBefore = UInt64(bitPattern: row.int(4))
        options.maxRetries = UInt8(clamping: row.int(5))
        options.timeoutMilliseconds = UInt32(clamping: row.int(6))
        options.dedupKey = row.text(7) ?? ""
        options.concurrencyKey = row.text(8) ?? ""
        options.concurrencyLimit = UInt16(clamping: row.int(9))
        options.spacingMilliseconds = UInt32(clamping: row.int(10))
        return StoredJob(
            id: UInt64(bitPattern: row.int(0)), handler: row.text(1) ?? "", options: options, payload: row.blob(2),
            attempts: UInt32(clamping: row.int(11)), lost: UInt32(clamping: row.int(12)),
            state: StoredJob.State(rawValue: row.int(13)) ?? .queued, lastError: row.text(14))
    }

    // MARK: Writing

    /// Journals a new job, or finds the earlier job with its dedup key.
    public func submit(_ job: NewJob, completion: @escaping @Sendable (Result<SubmitOutcome, JournalError>) -> Void) {
        committer.enqueue({ database in
            let options = job.options
            let insert = try database.statement("""
                INSERT INTO jobs(handler, payload, priority, not_before, max_retries, timeout_ms, dedup_key,
                    concurrency_key, concurrency_limit, spacing_ms, submitted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(dedup_key) DO NOTHING RETURNING id
                """)
            insert.bind(.text(job.handler), .blob(job.payload), .integer(Int64(options.priority)),
                        .unsigned(options.notBefore), .integer(Int64(options.maxRetries)),
                        .integer(Int64(options.timeoutMilliseconds)), .optionalText(options.dedupKey),
                        .optionalText(options.concurrencyKey), .integer(Int64(options.concurrencyLimit)),
                        .integer(Int64(options.spacingMilliseconds)), .unsigned(job.submittedAt))
            if try insert.step() {
                let id = UInt64(bitPattern: insert.int(0))
                insert.reset()
                return SubmitOutcome.accepted(StoredJob(
                    id: id, handler: job.handler, options: options, payload: job.payload, attempts: 0, lost: 0,
                    state: .queued, lastError: nil))
            }
            let existing = try database.statement("SELECT id FROM jobs WHERE dedup_key = ?")
            existing.bind(.text(options.dedupKey))
            guard try existing.step() else { throw JournalError.sqlite(path: database.path, code: -1, message: "dedup key vanished") }
            return .duplicate(jobID: UInt64(bitPattern: existing.int(0)))
        }, completion: completion)
    }

    /// Marks jobs done: their payloads go, their rows (and dedup keys) stay.
    public func markDone(jobs: [UInt64], completion: (@Sendable (Result<Void, JournalError>) -> Void)? = nil) {
        update("UPDATE jobs SET state = 1, payload = NULL WHERE id = ?", jobs.map { [.unsigned($0)] }, completion)
    }

    /// Records a failed attempt that will be retried at `notBefore`.
    public func markRetry(job: UInt64, attempts: UInt32, notBefore: UInt64, error: String) {
        update("UPDATE jobs SET attempts = ?, not_before = ?, last_error = ? WHERE id = ?",
               [[.integer(Int64(attempts)), .unsigned(notBefore), .text(error), .unsigned(job)]], nil)
    }

    /// Records that the job's worker was lost (the job is queued again).
    public func markLost(job: UInt64, lost: UInt32) {
        update("UPDATE jobs SET lost = ?, attempts = attempts + 1 WHERE id = ?", [[.integer(Int64(lost)), .unsigned(job)]], nil)
    }

    /// Moves a job to the dead letters.
    public func markDead(job: UInt64, error: String) {
        update("UPDATE jobs SET state = 2, last_error = ? WHERE id = ?", [[.text(error), .unsigned(job)]], nil)
    }

    /// Records a cancelled job.
    public func markCancelled(job: UInt64) {
        update("UPDATE jobs SET state = 3, payload = NULL WHERE id = ?", [[.unsigned(job)]], nil)
    }

    /// Queues dead jobs again with fresh retries (`job` 0: all); completes with how many.
    public func revive(job: UInt64, completion: @escaping @Sendable (Result<Int, JournalError>) -> Void) {
        committer.enqueue({ database in
            let statement = try database.statement(job == 0
                ? "UPDATE jobs SET state = 0, attempts = 0, lost = 0, not_before = 0 WHERE state = 2"
                : "UPDATE jobs SET state = 0, attempts = 0, lost = 0, not_before = 0 WHERE state = 2 AND id = ?")
            if job != 0 { statement.bind(.unsigned(job)) }
            try statement.run()
            return database.changes
        }, completion: completion)
    }

    /// Deletes dead jobs (`job` 0: all); completes with how many.
    public func purge(job: UInt64, completion: @escaping @Sendable (Result<Int, JournalError>) -> Void) {
        committer.enqueue({ database in
            let statement = try database.statement(job == 0 ? "DELETE FROM jobs WHERE state = 2"
                                                            : "DELETE FROM jobs WHERE state = 2 AND id = ?")
            if job != 0 { statement.bind(.unsigned(job)) }
            try statement.run()
            return database.changes
        }, completion: completion)
    }

    private func update(_ sql: String, _ rows: [[SQLValue]], _ completion: (@Sendable (Result<Void, JournalError>) -> Void)?) {
        guard !rows.isEmpty else { return }
        committer.enqueue({ database in
            let statement = try database.statement(sql)
            for row in rows {
                statement.reset()
                for (index, value) in row.enumerated() { statement.bindOne(Int32(index + 1), value) }
                try statement.run()
            }
        }, completion: { result in completion?(result) })
    }
}
