import CSQLite
import Foundation
import Logging
import Synchronization

private let logger = Logger(label: "evy.jobs.journal")

/// Keeps a database's WAL short without stalling its commits.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages, its
/// fsync included: one commit in a few hundred took milliseconds (the p99 of a submit). So the
/// writer's connection has it turned off, and after each commit the writer's WAL hook wakes this
/// thread once the WAL holds ``threshold`` pages; it runs a PASSIVE checkpoint on a connection of
/// its own, which never blocks the writer and does the bulk of the copying and syncing.
///
/// A WAL only starts over when a checkpoint has caught up with its end and no commit came in
/// between, which never happens under a steady stream of commits. So at ``hardLimit`` pages the
/// writer checkpoints inline once, as SQLite would have at 1,000: cheap now, since the frames
/// before the last background pass are copied already, and the WAL then starts over.
///
/// Failure: a checkpoint that fails (a full disk) is logged and tried again at the next request;
/// nothing committed is at risk (the frames stay in the WAL). Thread-safe.
final class Checkpointer: @unchecked Sendable {
    /// WAL pages that make the writer ask for a checkpoint.
    static let threshold: Int32 = 1000
    /// WAL pages past which the writer checkpoints itself (so the WAL stays near 16 MB).
    static let hardLimit: Int32 = 4000

    private let connection: SQLiteDatabase
    private let condition = NSCondition()
    private var requested = false
    /// Whether this thread is checkpointing now (the writer's inline checkpoint waits for it).
    private var checkpointing = false
    private var closing = false
    private var thread: pthread_t?
    private let checkpointCount = Atomic<Int>(0)
    /// Checkpoints run so far (tests read it).
    var checkpoints: Int { checkpointCount.load(ordering: .relaxed) }

    /// Opens a second connection to `writer`'s file, turns the writer's automatic checkpoint off
    /// and hooks its commits. Throws ``JournalError`` if the connection cannot be opened. The
    /// checkpointer must outlive `writer`'s connection (``close()`` after closing it).
    init(for writer: SQLiteDatabase) throws(JournalError) {
        connection = try SQLiteDatabase(path: writer.path)
        // Order matters: setting wal_autocheckpoint installs SQLite's own WAL hook, replacing any.
        try writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.onCommit(context: Unmanaged.passUnretained(self).toOpaque()) { context, database, _, pages in
            Unmanaged<Checkpointer>.fromOpaque(context!).takeUnretainedValue().committed(walPages: pages, database)
            return SQLITE_OK
        }
        thread = startJournalThread { [self] in run() }
    }

    /// The WAL's size in ``threshold`` pages when a checkpoint was last asked for, and its size
    /// after the commit before (writer's thread only).
    private var requestedAt: Int32 = 0
    private var lastPages: Int32 = 0

    /// After each commit, on the writer's thread: one request per ``threshold`` pages of growth,
    /// the inline checkpoint at ``hardLimit``.
    private func committed(walPages pages: Int32, _ database: OpaquePointer?) {
        if pages < lastPages { requestedAt = 0 }  // the WAL started over
        lastPages = pages
        if pages >= Self.hardLimit {
            var code = sqlite3_wal_checkpoint_v2(database, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            if code & 0xff == SQLITE_BUSY {
                // This thread holds the checkpoint lock: once its pass ends, what is left is short.
                waitForPass()
                code = sqlite3_wal_checkpoint_v2(database, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            }
            if code != SQLITE_OK && code & 0xff != SQLITE_BUSY {
                logger.warning("an inline WAL checkpoint failed (SQLite code \(code)); tried again after the next commit")
            }
            requestedAt = 0
        } else if pages / Self.threshold > requestedAt {
            requestedAt = pages / Self.threshold
            request()
        }
    }

    /// Blocks until this thread's checkpoint in progress, if any, is over.
    private func waitForPass() {
        condition.lock()
        while checkpointing { condition.wait() }
        condition.unlock()
    }

    /// Asks for a checkpoint (several requests before it runs make one).
    func request() {
        condition.lock()
        requested = true
        condition.signal()
        condition.unlock()
    }

    /// Stops the thread and closes its connection (whichever connection to the file closes last
    /// checkpoints the whole WAL and removes it). Blocks until done.
    func close() {
        condition.lock()
        closing = true
        condition.signal()
        let thread = self.thread
        self.thread = nil
        condition.unlock()
        if let thread { pthread_join(thread, nil) }
    }

    private func run() {
        while true {
            condition.lock()
            while !requested && !closing { condition.wait() }
            let stop = closing
            requested = false
            checkpointing = !stop
            condition.unlock()
            if stop { break }
            do {
                try connection.checkpoint()
                checkpointCount.add(1, ordering: .relaxed)
            } catch .other(let code, _) where code & 0xff == SQLITE_BUSY {
                // The writer checkpoints inline at that moment: nothing to do.
            } catch {
                logger.warning("a WAL checkpoint failed (tried again later): \(error)")
            }
            condition.lock()
            checkpointing = false
            condition.broadcast()
            condition.unlock()
        }
        connection.close()
    }
}
