import EvyCrawl
import EvyJobs
import Foundation

/// The feed scraper's own state, one row per feed (``FeedState``), in a SQLite file of its own:
/// what survives the scraper's restarts (validators, seen entries, schedule, errors). Written
/// after each poll's outcome is taken, before that feed's next poll is submitted, so a restart
/// resubmits at most the poll whose outcome it had not written: the same job (its dedup key),
/// whose recorded outcome comes back, never a second recording.
///
/// Used on one thread (the scraper's hub); every method throws ``JournalError`` when SQLite
/// fails (a full disk included: nothing of that write is kept, and the store stays usable).
public final class FeedStateStore: @unchecked Sendable {
    /// The file.
    public let path: String
    /// A random id of this store, made with it: its poll jobs' dedup keys start with it, so two
    /// stores sharing a dispatcher never take each other's polls.
    public let storeID: String
    private let database: SQLiteDatabase

    private static let columns =
        "id, feed, url, title, home_page, etag, last_modified, polls, next_poll, last_poll, errors, last_error, "
        + "last_status, status, redirect_target, redirect_sightings, entries_last_week, seen, entries, bozo"

    /// Opens the store at `path`, creating it if needed.
    public init(path: String) throws {
        self.path = path
        database = try SQLiteDatabase(path: path)
        try database.execute(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS feeds (
                id INTEGER PRIMARY KEY, feed TEXT NOT NULL UNIQUE, url TEXT NOT NULL, title TEXT, home_page TEXT,
                etag TEXT, last_modified TEXT, polls INTEGER NOT NULL DEFAULT 0, next_poll REAL NOT NULL DEFAULT 0,
                last_poll REAL NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0, last_error TEXT,
                last_status INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'active', redirect_target TEXT,
                redirect_sightings INTEGER NOT NULL DEFAULT 0, entries_last_week INTEGER NOT NULL DEFAULT 0,
                seen TEXT NOT NULL DEFAULT '', entries INTEGER NOT NULL DEFAULT 0, bozo TEXT);
            INSERT OR IGNORE INTO meta (key, value) VALUES ('store', lower(hex(randomblob(8))));
            """)
        let select = try database.statement("SELECT value FROM meta WHERE key = 'store'")
        storeID = try select.step() ? select.text(0) : "store"
        select.reset()
    }

    /// Adds the feeds not in the store yet (by URL); returns how many were new.
    @discardableResult
    public func add(_ feeds: [OPML.Outline]) throws -> Int {
        var added = 0
        try transaction {
            let insert = try database.statement("INSERT OR IGNORE INTO feeds (feed, url, title) VALUES (?1, ?1, ?2)")
            for outline in feeds {
                insert.reset()
                insert.bind(1, outline.url)
                insert.bind(2, outline.title)
                try insert.step()
                added += database.changes
            }
        }
        return added
    }

    /// Every feed, in the order they were added.
    public func all() throws -> [FeedState] {
        let select = try database.statement("SELECT \(Self.columns) FROM feeds ORDER BY id")
        defer { select.reset() }
        var states: [FeedState] = []
        try select.forEachRow { row in states.append(Self.state(row)) }
        return states
    }

    /// Writes `states` in one transaction.
    public func save(_ states: [FeedState]) throws {
        try transaction {
            let update = try database.statement(
                "UPDATE feeds SET url = ?2, title = ?3, home_page = ?4, etag = ?5, last_modified = ?6, polls = ?7, "
                    + "next_poll = ?8, last_poll = ?9, errors = ?10, last_error = ?11, last_status = ?12, status = ?13, "
                    + "redirect_target = ?14, redirect_sightings = ?15, entries_last_week = ?16, seen = ?17, "
                    + "entries = ?18, bozo = ?19 WHERE id = ?1")
            for state in states {
                update.reset()
                update.bind(1, state.id)
                update.bind(2, state.url)
                update.bind(3, state.title)
                update.bind(4, state.homePage)
                update.bind(5, state.etag)
                update.bind(6, state.lastModified)
                update.bind(7, state.polls)
                update.bind(8, state.nextPoll)
                update.bind(9, state.lastPoll)
                update.bind(10, state.errors)
                update.bind(11, state.lastError)
                update.bind(12, state.lastStatus)
                update.bind(13, state.status.rawValue)
                update.bind(14, state.redirectTarget)
                update.bind(15, state.redirectSightings)
                update.bind(16, state.entriesLastWeek)
                update.bind(17, state.seen.joined(separator: "\n"))
                update.bind(18, state.entries)
                update.bind(19, state.bozo)
                try update.step()
            }
        }
    }

    /// Closes the file; later use throws.
    public func close() { database.close() }

    private func transaction(_ body: () throws -> Void) throws {
        try database.execute("BEGIN IMMEDIATE")
        do {
            try body()
            try database.execute("COMMIT")
        } catch {
            if !database.isAutocommit { try? database.execute("ROLLBACK") }
            throw error
        }
    }

    private static func state(_ row: Statement) -> FeedState {
        func optional(_ column: Int32) -> String? { row.isNull(column) ? nil : row.text(column) }
        var state = FeedState(id: row.int64(0), feed: row.text(1), url: row.text(2))
        state.title = optional(3)
        state.homePage = optional(4)
        state.etag = optional(5)
        state.lastModified = optional(6)
        state.polls = row.int(7)
        state.nextPoll = row.double(8)
        state.lastPoll = row.double(9)
        state.errors = row.int(10)
        state.lastError = optional(11)
        state.lastStatus = row.int(12)
        state.status = FeedState.Status(rawValue: row.text(13)) ?? .active
        state.redirectTarget = optional(14)
        state.redirectSightings = row.int(15)
        state.entriesLastWeek = row.int(16)
        state.seen = row.text(17).split(separator: "\n").map(String.init)
        state.entries = row.int(18)
        state.bozo = optional(19)
        return state
    }
}
