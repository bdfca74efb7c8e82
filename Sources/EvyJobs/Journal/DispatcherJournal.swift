import Evy
import Metrics

/// The dispatcher's durable record of its jobs: the file `dispatcher.sqlite3` in a directory, in
/// WAL mode, written by a ``GroupCommitter`` on its own thread.
///
/// Concurrency: any thread may call any method. Writes (``submit(_:completion:)`` and the `mark…`
/// updates) are queued and committed in groups, in the order they were called; their completions
/// run on the hub given to ``init(directory:synchronous:hub:)``, after the commit, one hop per
/// batch. A completion with success means the write is on disk (up to ``JournalSynchronous``'s promise).
/// The synchronous reads (``loadPending()``, ``loadDead(limit:)``, ``counts()``) block their caller
/// while a commit runs; use them at start-up and for inspection.
///
/// Failure: a full disk or an I/O error fails the whole batch it hits (nothing of it is written)
/// with ``JournalError``; the journal stays usable and later writes succeed once space is back.
/// An update without a completion that fails is logged (label `evy.jobs.journal`).
public final class DispatcherJournal: @unchecked Sendable {
    /// The database file.
    public let path: String
    private let committer: GroupCommitter
    private let hub: Hub

    /// Opens (creating it if needed) `directory`/dispatcher.sqlite3, whose completions run on `hub`.
    /// Throws ``JournalError`` if the file cannot be opened or its table created.
    public init(
        directory: String, synchronous: JournalSynchronous = .normal, hub: Hub, commitTimer: Metrics.Timer? = nil
    ) throws(JournalError) {
        path = directory + "/dispatcher.sqlite3"
        let database = try SQLiteDatabase(path: path, synchronous: synchronous)
        try database.execute(JobsTable.schema)
        committer = try GroupCommitter(database: database, commitTimer: commitTimer)
        self.hub = hub
    }

    deinit { committer.close() }

    /// Commits what is queued (running its completions' hops), then closes the file; later writes
    /// fail with ``JournalError/other(_:_:)`` `SQLITE_MISUSE`. Blocks until the last commit is done.
    public func close() { committer.close() }

    /// Batches committed so far (for tests and statistics).
    var commits: Int { committer.commits }

    /// WAL checkpoints run so far by the checkpointer (tests).
    var checkpoints: Int { committer.checkpointer.checkpoints }

    /// Runs `sql` between commits (tests use it to set pragmas such as `max_page_count`).
    func execute(_ sql: String) throws(JournalError) {
        try committer.read { database throws(JournalError) in try database.execute(sql) }
    }

    // MARK: Reading

    /// Every queued job (waiting, running, or waiting for a retry), by id. Blocks while a commit runs.
    public func loadPending() throws(JournalError) -> [StoredJob] {
        try committer.read { database throws(JournalError) in
            try JobsTable.jobs(
                of: database.statement(
                    "SELECT \(JobsTable.columns) FROM jobs WHERE state = 0 ORDER BY id"))
        }
    }

    /// The first `limit` dead jobs, by id. Blocks while a commit runs.
    public func loadDead(limit: Int) throws(JournalError) -> [StoredJob] {
        try committer.read { database throws(JournalError) in
            let statement = try database.statement(
                "SELECT \(JobsTable.columns) FROM jobs WHERE state = 2 ORDER BY id LIMIT ?1")
            statement.bind(1, limit)
            return try JobsTable.jobs(of: statement)
        }
    }

    /// How many jobs are in each state (states without jobs are absent). Blocks while a commit runs.
    public func counts() throws(JournalError) -> [JobState: Int] {
        try committer.read { database throws(JournalError) in
            var counts: [JobState: Int] = [:]
            try database.statement("SELECT state, count(*) FROM jobs GROUP BY state").forEachRow { row in
                if let state = JobState(rawValue: row.int64(0)) { counts[state] = row.int(1) }
            }
            return counts
        }
    }

    // MARK: Writing

    /// Stores `job` as queued, unless its non-empty dedup key is taken by any earlier job (in any
    /// state, done ones included), which makes it a ``SubmitOutcome/duplicate(jobID:)``.
    /// `completion` runs on the hub once committed, or with the error that failed its batch.
    public func submit(_ job: NewJob, completion: @escaping @Sendable (Result<SubmitOutcome, JournalError>) -> Void) {
        committer.enqueue(
            { database throws(JournalError) -> SubmitOutcome in
                let insert = try database.statement(JobsTable.insert)
                JobsTable.bind(job, to: insert)
                try insert.step()
                if database.changes == 1 {
                    return .accepted(
                        StoredJob(
                            id: UInt64(bitPattern: database.lastInsertRowID), handler: job.handler,
                            options: job.options, payload: job.payload, submittedAt: job.submittedAt))
                }
                let select = try database.statement("SELECT id FROM jobs WHERE dedup_key = ?1")
                select.bind(1, job.options.dedupKey)
                guard try select.step() else { throw JournalError.other(-1, "\(database.path): dedup key vanished") }
                return .duplicate(jobID: select.uint64(0))
            }, on: hub, completion: completion)
    }

    /// Marks `jobs` done and drops their payloads; the rows stay, so their dedup keys stay taken.
    public func markDone(jobs: [UInt64], completion: (@Sendable (Result<Void, JournalError>) -> Void)? = nil) {
        update("UPDATE jobs SET state = 1, payload = NULL WHERE id = ?1", jobs, completion)
    }

    /// Records a failed attempt of a queued job: its attempts so far, when it may run again and why it failed.
    public func markRetry(
        job: UInt64, attempts: UInt32, notBefore: UInt64, error: String,
        completion: (@Sendable (Result<Void, JournalError>) -> Void)? = nil
    ) {
        write(completion) { database throws(JournalError) in
            let statement = try database.statement(
                "UPDATE jobs SET attempts = ?2, not_before = ?3, last_error = ?4 WHERE id = ?1")
            statement.bind(1, job)
            statement.bind(2, Int64(attempts))
            statement.bind(3, notBefore)
            statement.bind(4, error)
            try statement.step()
        }
    }

    /// Records how many attempts of `job` were lost with their worker.
    public func markLost(job: UInt64, lost: UInt32, completion: (@Sendable (Result<Void, JournalError>) -> Void)? = nil)
    {
        write(completion) { database throws(JournalError) in
            let statement = try database.statement("UPDATE jobs SET lost = ?2 WHERE id = ?1")
            statement.bind(1, job)
            statement.bind(2, Int64(lost))
            try statement.step()
        }
    }

    /// Moves `job` to the dead letters with `error`; its payload stays, so ``revive(job:completion:)`` can requeue it.
    public func markDead(
        job: UInt64, error: String, completion: (@Sendable (Result<Void, JournalError>) -> Void)? = nil
    ) {
        finish(job, state: .dead, error: error, keepPayload: true, completion)
    }

    /// Marks `job` cancelled and drops its payload.
    public func markCancelled(job: UInt64, completion: (@Sendable (Result<Void, JournalError>) -> Void)? = nil) {
        finish(job, state: .cancelled, error: "", keepPayload: false, completion)
    }

    /// Marks `job` failed for good with `error` and drops its payload.
    public func markFailed(
        job: UInt64, error: String, completion: (@Sendable (Result<Void, JournalError>) -> Void)? = nil
    ) {
        finish(job, state: .failed, error: error, keepPayload: false, completion)
    }

    /// Queues the dead `job` again (0: every dead job) with no attempts and no losses; the
    /// completion gets the revived jobs (none if `job` is not dead), to put back in the queue.
    public func revive(job: UInt64, completion: (@Sendable (Result<[StoredJob], JournalError>) -> Void)? = nil) {
        committer.enqueue(
            { database throws(JournalError) -> [StoredJob] in
                let statement = try database.statement(
                    """
                    UPDATE jobs SET state = 0, attempts = 0, lost = 0 WHERE state = 2 AND (?1 = 0 OR id = ?1)
                    RETURNING \(JobsTable.columns)
                    """)
                statement.bind(1, job)
                return try JobsTable.jobs(of: statement).sorted { $0.id < $1.id }
            }, on: hub, completion: completion)
    }

    /// Deletes the dead `job` (0: every dead job), forgetting its dedup key; the completion gets
    /// how many were deleted.
    public func purge(job: UInt64, completion: (@Sendable (Result<Int, JournalError>) -> Void)? = nil) {
        committer.enqueue(
            { database throws(JournalError) -> Int in
                let statement = try database.statement("DELETE FROM jobs WHERE state = 2 AND (?1 = 0 OR id = ?1)")
                statement.bind(1, job)
                try statement.step()
                return database.changes
            }, on: hub, completion: completion)
    }

    // MARK: Helpers

    private func finish(
        _ job: UInt64, state: JobState, error: String, keepPayload: Bool,
        _ completion: (@Sendable (Result<Void, JournalError>) -> Void)?
    ) {
        write(completion) { database throws(JournalError) in
            let statement = try database.statement(
                keepPayload
                    ? "UPDATE jobs SET state = ?2, last_error = ?3 WHERE id = ?1"
                    : "UPDATE jobs SET state = ?2, last_error = ?3, payload = NULL WHERE id = ?1")
            statement.bind(1, job)
            statement.bind(2, state.rawValue)
            statement.bind(3, error)
            try statement.step()
        }
    }

    /// Runs `sql`, whose one parameter is a job id, for each of `jobs`, as one operation.
    private func update(
        _ sql: String, _ jobs: [UInt64], _ completion: (@Sendable (Result<Void, JournalError>) -> Void)?
    ) {
        write(completion) { database throws(JournalError) in
            let statement = try database.statement(sql)
            for job in jobs {
                statement.bind(1, job)
                try statement.step()
                statement.reset()
            }
        }
    }

    private func write(
        _ completion: (@Sendable (Result<Void, JournalError>) -> Void)?,
        _ body: @escaping @Sendable (SQLiteDatabase) throws(JournalError) -> Void
    ) {
        committer.enqueue({ database in try body(database) }, on: hub, completion: completion)
    }
}
