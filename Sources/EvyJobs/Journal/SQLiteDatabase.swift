import CSQLite

/// How hard a commit waits for the disk (SQLite's `PRAGMA synchronous` in WAL mode).
public enum JournalSynchronous: Sendable {
    /// A commit survives a crash of the process; a power loss may lose the last commits (never
    /// corrupts). The WAL is synced at checkpoints only.
    case normal
    /// Every commit is synced to the disk before it completes: it survives a power loss too.
    case full
}

/// One connection to a SQLite database file in WAL mode, with a cache of prepared statements.
/// Not thread-safe: one thread uses it at a time (``GroupCommitter`` guarantees that).
package final class SQLiteDatabase {
    /// The file.
    package let path: String
    private var handle: OpaquePointer?
    private var statements: [String: Statement] = [:]

    /// Opens (creating it unless `readOnly`) the database at `path` in WAL mode with a 5 s busy
    /// timeout. Throws ``JournalError`` if the file cannot be opened or set up.
    package init(path: String, synchronous: JournalSynchronous = .normal, readOnly: Bool = false) throws(JournalError) {
        self.path = path
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(handle)
            handle = nil
            throw JournalError(code: code, path: path, message: message)
        }
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 5000)
        if !readOnly {
            try execute("PRAGMA journal_mode=WAL")
            try execute(synchronous == .full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL")
        }
    }

    deinit { close() }

    /// Finalizes every statement and closes the connection; later use throws.
    package func close() {
        for statement in statements.values { statement.finalize() }
        statements = [:]
        sqlite3_close_v2(handle)
        handle = nil
    }

    /// Runs `sql` (one or more statements, no parameters), discarding rows.
    package func execute(_ sql: String) throws(JournalError) {
        try check(sqlite3_exec(handle, sql, nil, nil, nil))
    }

    /// The prepared statement of `sql`, reset and with no bindings (prepared once, then cached).
    package func statement(_ sql: String) throws(JournalError) -> Statement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        try check(sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil))
        let statement = Statement(raw!, database: self)
        statements[sql] = statement
        return statement
    }

    /// Resets every cached statement, so that none holds a read open (a SELECT stopped at its
    /// first row does): an open read makes the WAL hook's checkpoint fail with `SQLITE_LOCKED`.
    package func resetStatements() {
        for statement in statements.values { statement.reset() }
    }

    /// Calls `hook` after each commit with `context` and the WAL's size in pages
    /// (`sqlite3_wal_hook`); it runs on the committing thread and returns an SQLite code.
    func onCommit(
        context: UnsafeMutableRawPointer,
        _ hook: @escaping @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32)
            -> Int32
    ) {
        sqlite3_wal_hook(handle, hook, context)
    }

    /// Copies what it can of the WAL into the database without waiting for anyone (a PASSIVE
    /// checkpoint). Throws ``JournalError`` on an I/O error or a full disk.
    func checkpoint() throws(JournalError) {
        try check(sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil))
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    package var changes: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last successful INSERT.
    package var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Whether no transaction is open (SQLite may roll one back by itself after an I/O error).
    package var isAutocommit: Bool { handle == nil || sqlite3_get_autocommit(handle) != 0 }

    /// Throws the connection's current error unless `code` is `SQLITE_OK`, `SQLITE_ROW` or `SQLITE_DONE`.
    package func check(_ code: Int32) throws(JournalError) {
        guard code != SQLITE_OK && code != SQLITE_ROW && code != SQLITE_DONE else { return }
        guard let handle else { throw JournalError.other(SQLITE_MISUSE, "\(path): the database is closed") }
        throw JournalError(code: code, path: path, message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// A prepared statement of a ``SQLiteDatabase``: bind parameters (numbered from 1), step, read
/// columns (numbered from 0). Used on its database's thread only.
package final class Statement {
    private var handle: OpaquePointer?
    private unowned let database: SQLiteDatabase

    init(_ handle: OpaquePointer, database: SQLiteDatabase) {
        self.handle = handle
        self.database = database
    }

    package func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// Resets the statement and clears its bindings.
    package func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Binding

    package func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }

    /// Binds `value`'s bit pattern (SQLite integers are signed 64-bit).
    package func bind(_ index: Int32, _ value: UInt64) { sqlite3_bind_int64(handle, index, Int64(bitPattern: value)) }

    package func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }

    /// Binds `value` as text, or NULL.
    package func bind(_ index: Int32, _ value: String?) {
        guard let value else { return bindNull(index) }
        sqlite3_bind_text(handle, index, value, -1, evy_sqlite_transient())
    }

    /// Binds `value` as a blob (copied), or NULL.
    package func bind(_ index: Int32, _ value: [UInt8]?) {
        guard let value else { return bindNull(index) }
        value.withUnsafeBytes { bytes in
            // A zero-length blob needs a non-nil pointer, or SQLite stores NULL.
            let base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
            _ = sqlite3_bind_blob64(handle, index, base, UInt64(bytes.count), evy_sqlite_transient())
        }
    }

    package func bind(_ index: Int32, _ value: Double) { sqlite3_bind_double(handle, index, value) }

    package func bindNull(_ index: Int32) { sqlite3_bind_null(handle, index) }

    // MARK: Stepping

    /// Steps once: true while there is a row to read, false once done. Throws the statement's error.
    @discardableResult
    package func step() throws(JournalError) -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        try database.check(code)
        return false
    }

    /// Steps through every row, calling `row` for each.
    package func forEachRow(_ row: (Statement) throws(JournalError) -> Void) throws(JournalError) {
        while try step() { try row(self) }
    }

    // MARK: Columns

    package func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    package func uint64(_ column: Int32) -> UInt64 { UInt64(bitPattern: sqlite3_column_int64(handle, column)) }

    package func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }

    package func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    package func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    /// The column as text ("" for NULL).
    package func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: bytes)
    }

    /// The column as bytes ([] for NULL).
    package func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}
