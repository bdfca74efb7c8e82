import CSQLite

/// Why the journal could not read or write.
public enum JournalError: Error, Equatable, CustomStringConvertible {
    /// The disk (or the database's size limit) is full: nothing of the batch was written.
    case full(path: String)
    /// Any other SQLite failure, with its result code and message.
    case sqlite(path: String, code: Int32, message: String)
    /// The journal was closed.
    case closed

    public var description: String {
        switch self {
        case .full(let path): "\(path): the disk is full; nothing was written"
        case .sqlite(let path, let code, let message): "\(path): SQLite error \(code): \(message)"
        case .closed: "the journal is closed"
        }
    }
}

/// How a commit reaches the disk (SQLite's `synchronous` in WAL mode).
public enum JournalSynchronous: String, Sendable {
    /// A commit is in the OS when it returns, on disk at the next checkpoint: survives a process
    /// crash, not a power cut.
    case normal = "NORMAL"
    /// A commit is on disk when it returns.
    case full = "FULL"
}

/// One SQLite connection (WAL mode) and its prepared statements. Not thread-safe: one thread uses it.
final class SQLiteDatabase {
    let path: String
    private var handle: OpaquePointer?
    private var statements: [String: Statement] = [:]

    init(path: String, synchronous: JournalSynchronous, readOnly: Bool = false) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        let code = sqlite3_open_v2(path, &handle, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw JournalError.sqlite(path: path, code: code, message: message)
        }
        sqlite3_busy_timeout(handle, 5000)
        if !readOnly {
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=\(synchronous.rawValue)")
        }
    }

    deinit {
        statements = [:]
        sqlite3_close_v2(handle)
    }

    /// Runs SQL with no parameters and no rows wanted.
    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        if code != SQLITE_OK { throw error(code, message.map { String(cString: $0) }) }
    }

    /// The prepared statement for `sql`, made once and reset for each use.
    func statement(_ sql: String) throws -> Statement {
        if let statement = statements[sql] {
            statement.reset()
            return statement
        }
        var pointer: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, nil)
        guard code == SQLITE_OK, let pointer else { throw error(code) }
        let statement = Statement(pointer, database: self)
        statements[sql] = statement
        return statement
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    func error(_ code: Int32, _ message: String? = nil) -> JournalError {
        if code & 0xFF == SQLITE_FULL { return .full(path: path) }
        return .sqlite(path: path, code: code, message: message ?? String(cString: sqlite3_errmsg(handle)))
    }
}

/// A prepared statement: bind the parameters (from 1), step through the rows, read columns.
final class Statement {
    private let pointer: OpaquePointer
    private unowned let database: SQLiteDatabase

    init(_ pointer: OpaquePointer, database: SQLiteDatabase) {
        self.pointer = pointer
        self.database = database
    }

    deinit { sqlite3_finalize(pointer) }

    func reset() {
        sqlite3_reset(pointer)
        sqlite3_clear_bindings(pointer)
    }

    /// Binds the values to the parameters in order, from the first.
    @discardableResult
    func bind(_ values: SQLValue...) -> Statement {
        for (index, value) in values.enumerated() { bindOne(Int32(index + 1), value) }
        return self
    }

    /// Binds `value` to the parameter at `position` (from 1).
    func bindOne(_ position: Int32, _ value: SQLValue) {
            switch value {
            case .integer(let number): sqlite3_bind_int64(pointer, position, number)
            case .text(let text): sqlite3_bind_text(pointer, position, text, -1, evy_sqlite_transient())
            case .blob(let bytes):
                bytes.withUnsafeBytes { raw in
                    _ = sqlite3_bind_blob(pointer, position, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count),
                                          evy_sqlite_transient())
                }
            case .null: sqlite3_bind_null(pointer, position)
            }
    }

    /// Steps once: true while a row is there, false when done. Throws the SQLite error.
    func step() throws -> Bool {
        let code = sqlite3_step(pointer)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(code)
            sqlite3_reset(pointer)
            throw error
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws { while try step() {} }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(pointer, column) }
    func text(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(pointer, column) else { return nil }
        return String(cString: text)
    }
    func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let bytes = sqlite3_column_blob(pointer, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }
}

/// A value bound to a statement parameter.
enum SQLValue {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null

    static func unsigned(_ value: UInt64) -> SQLValue { .integer(Int64(bitPattern: value)) }
    static func optionalText(_ value: String) -> SQLValue { value.isEmpty ? .null : .text(value) }
}
