/// The SQL of the dispatcher's `jobs` table, and reading its rows.
enum JobsTable {
    /// Ids are AUTOINCREMENT so a purged job's id is never given again (the collector records a
    /// job id once). `dedup_key` is NULL when empty; its unique index is partial, so jobs without a
    /// key cost it nothing. The partial index `jobs_open` lists every job not done, so start-up
    /// and the dead letters do not scan the done rows kept for their dedup keys.
    static let schema = """
        CREATE TABLE IF NOT EXISTS jobs(
            id INTEGER PRIMARY KEY AUTOINCREMENT, handler TEXT NOT NULL, payload BLOB,
            priority INTEGER NOT NULL, not_before INTEGER NOT NULL, max_retries INTEGER NOT NULL,
            timeout_ms INTEGER NOT NULL, dedup_key TEXT, concurrency_key TEXT NOT NULL,
            concurrency_limit INTEGER NOT NULL, spacing_ms INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, lost INTEGER NOT NULL DEFAULT 0,
            state INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
            submitted_at INTEGER NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS jobs_dedup ON jobs(dedup_key) WHERE dedup_key IS NOT NULL;
        CREATE INDEX IF NOT EXISTS jobs_open ON jobs(state, id) WHERE state <> 1;
        """

    static let columns = """
        id, handler, payload, priority, not_before, max_retries, timeout_ms, dedup_key, concurrency_key,
        concurrency_limit, spacing_ms, attempts, lost, state, last_error, submitted_at
        """

    static let insert = """
        INSERT INTO jobs(handler, payload, priority, not_before, max_retries, timeout_ms, dedup_key,
            concurrency_key, concurrency_limit, spacing_ms, submitted_at)
        VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT(dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
        """

    /// Binds `job` to ``insert``'s parameters.
    static func bind(_ job: NewJob, to statement: Statement) {
        let options = job.options
        statement.bind(1, job.handler)
        statement.bind(2, job.payload)
        statement.bind(3, Int64(options.priority))
        statement.bind(4, options.notBefore)
        statement.bind(5, Int64(options.maxRetries))
        statement.bind(6, Int64(options.timeoutMilliseconds))
        statement.bind(7, options.dedupKey.isEmpty ? nil : options.dedupKey)
        statement.bind(8, options.concurrencyKey)
        statement.bind(9, Int64(options.concurrencyLimit))
        statement.bind(10, Int64(options.spacingMilliseconds))
        statement.bind(11, job.submittedAt)
    }

    /// The job of the current row of a statement selecting ``columns``.
    static func job(at row: Statement) -> StoredJob {
        var options = JobOptions()
        options.priority = UInt8(truncatingIfNeeded: row.int64(3))
        options.notBefore = row.uint64(4)
        options.maxRetries = UInt8(truncatingIfNeeded: row.int64(5))
        options.timeoutMilliseconds = UInt32(truncatingIfNeeded: row.int64(6))
        options.dedupKey = row.text(7)
        options.concurrencyKey = row.text(8)
        options.concurrencyLimit = UInt16(truncatingIfNeeded: row.int64(9))
        options.spacingMilliseconds = UInt32(truncatingIfNeeded: row.int64(10))
        return StoredJob(
            id: row.uint64(0), handler: row.text(1), options: options, payload: row.blob(2),
            attempts: UInt32(truncatingIfNeeded: row.int64(11)), lost: UInt32(truncatingIfNeeded: row.int64(12)),
            state: JobState(rawValue: row.int64(13)) ?? .queued, lastError: row.text(14),
            submittedAt: row.uint64(15))
    }

    /// Every job a statement selecting ``columns`` yields.
    static func jobs(of statement: Statement) throws(JournalError) -> [StoredJob] {
        var jobs: [StoredJob] = []
        try statement.forEachRow { row in jobs.append(job(at: row)) }
        return jobs
    }
}
