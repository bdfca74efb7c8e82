import CSQLite

/// Why the journal could not read or write. Every case's text names the database file, so a log
/// line alone says which journal failed. `Sendable`; thrown by the synchronous reads and handed to
/// the completions of queued writes.
public enum JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The disk (or the file system holding the journal) is full: nothing of the failed batch was
    /// written. Writes succeed again once space is freed; the journal stays usable.
    case full(String)
    /// The operating system failed a read or write (`SQLITE_IOERR`, `SQLITE_CANTOPEN`).
    case io(String)
    /// The file is damaged or is not a SQLite database.
    case corrupt(String)
    /// Any other SQLite result code (a constraint, a closed journal, misuse), with its message.
    case other(Int32, String)

    /// The message, starting with the file's path.
    public var description: String {
        switch self {
        case .full(let message): "journal full: \(message)"
        case .io(let message): "journal I/O error: \(message)"
        case .corrupt(let message): "journal corrupt: \(message)"
        case .other(let code, let message): "journal error \(code): \(message)"
        }
    }

    /// Whether the error spoils the whole transaction it happened in (rather than one statement).
    var spoilsBatch: Bool {
        if case .other = self { return false }
        return true
    }

    /// The error of SQLite result `code` on the database file at `path`, its message `message`.
    init(code: Int32, path: String, message: String) {
        let text = "\(path): \(message)"
        switch code & 0xff {
        case SQLITE_FULL: self = .full(text)
        case SQLITE_IOERR, SQLITE_CANTOPEN: self = .io(text)
        case SQLITE_CORRUPT, SQLITE_NOTADB: self = .corrupt(text)
        default: self = .other(code, text)
        }
    }

    /// What an operation threw, as a journal error (a foreign error becomes ``other(_:_:)`` -1).
    init(_ error: any Error, path: String) {
        self = error as? JournalError ?? .other(-1, "\(path): \(error)")
    }
}
