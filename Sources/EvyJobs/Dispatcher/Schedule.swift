import DequeModule
import HeapModule

/// A job the dispatcher holds in memory: queued, delayed, waiting for its concurrency key, or
/// leased to a worker. Done, dead and cancelled jobs live only in the journal. Kept small (96
/// bytes with its lease): a million queued jobs are a million of these in one dictionary.
struct ScheduledJob {
    let id: UInt64
    let handler: String
    let payload: [UInt8]
    private let settings: Settings
    /// Attempts started so far (the next lease is `attempts + 1`).
    var attempts: UInt32
    /// Times its worker was lost while it ran.
    var lost: UInt32
    /// Its current lease, while a worker runs it.
    var lease: (worker: [UInt8], attempt: UInt32)?

    /// The options that matter once a job is queued: all but the dedup key, which only the
    /// journal's submit reads.
    private struct Settings {
        let notBefore: UInt64
        let concurrencyKey: String
        let timeoutMilliseconds: UInt32
        let spacingMilliseconds: UInt32
        let concurrencyLimit: UInt16
        let priority: UInt8
        let maxRetries: UInt8
    }

    init(
        id: UInt64, handler: String, options: JobOptions, payload: [UInt8], attempts: UInt32, lost: UInt32,
        lease: (worker: [UInt8], attempt: UInt32)?
    ) {
        self.id = id
        self.handler = handler
        self.payload = payload
        settings = Settings(
            notBefore: options.notBefore, concurrencyKey: options.concurrencyKey,
            timeoutMilliseconds: options.timeoutMilliseconds, spacingMilliseconds: options.spacingMilliseconds,
            concurrencyLimit: options.concurrencyLimit, priority: options.priority, maxRetries: options.maxRetries)
        self.attempts = attempts
        self.lost = lost
        self.lease = lease
    }

    // The options as submitted (``JobOptions``), but for the dedup key, which is not kept.
    var priority: UInt8 { settings.priority }
    var notBefore: UInt64 { settings.notBefore }
    var maxRetries: UInt8 { settings.maxRetries }
    var timeoutMilliseconds: UInt32 { settings.timeoutMilliseconds }
    var concurrencyKey: String { settings.concurrencyKey }
    var concurrencyLimit: UInt16 { settings.concurrencyLimit }
    var spacingMilliseconds: UInt32 { settings.spacingMilliseconds }
}

/// Which job runs next: priorities per handler, delayed jobs by their time, and concurrency keys
/// (at most `limit` running at once across all workers, `spacing` between starts). Pure and
/// hub-confined: no I/O, no clock of its own (the dispatcher passes `now`, Unix milliseconds).
///
/// Every job is in exactly one place: a handler's ready heap, the delayed heap, a key's waiting
/// line, or leased. Heaps drop entries lazily: a removed or leased job's entry is skipped when
/// it comes up.
struct Schedule {
    private struct ReadyEntry: Comparable {
        let priority: UInt8
        let id: UInt64
        /// Higher priority first, then the older job.
        static func < (a: Self, b: Self) -> Bool { a.priority != b.priority ? a.priority < b.priority : a.id > b.id }
    }

    private struct DelayedEntry: Comparable {
        let due: UInt64
        let id: UInt64
        static func < (a: Self, b: Self) -> Bool { a.due != b.due ? a.due < b.due : a.id < b.id }
    }

    private struct Key {
        var running = 0
        var nextStart: UInt64 = 0
        var waiting = Deque<UInt64>()
    }

    private(set) var jobs: [UInt64: ScheduledJob] = [:]
    private var ready: [String: Heap<ReadyEntry>] = [:]
    private var delayed = Heap<DelayedEntry>()
    private var keys: [String: Key] = [:]
    /// Jobs of each state, for status.
    private(set) var leasedCount = 0
    private(set) var delayedCount = 0

    /// Jobs queued or delayed or waiting, not leased.
    var pendingCount: Int { jobs.count - leasedCount }

    /// Adds a job: delayed if its time (`notBefore`) is after `now`, else ready.
    mutating func add(_ job: ScheduledJob, now: UInt64, notBefore: UInt64? = nil) {
        jobs[job.id] = job
        let due = notBefore ?? job.notBefore
        if due > now {
            delayed.insert(DelayedEntry(due: due, id: job.id))
            delayedCount += 1
        } else {
            makeReady(job.id)
        }
    }

    /// Moves the delayed jobs whose time has come to their ready heaps, and the jobs waiting for a
    /// key whose spacing has passed. Returns the next time something becomes due (nil: nothing).
    mutating func promote(now: UInt64) -> UInt64? {
        while let first = delayed.min, first.due <= now {
            delayed.removeMin()
            guard jobs[first.id] != nil else { continue }
            delayedCount -= 1
            makeReady(first.id)
        }
        var next = delayed.min?.due
        for (name, key) in keys {
            if key.nextStart > now {
                if !key.waiting.isEmpty { next = min(next ?? key.nextStart, key.nextStart) }
            } else if key.waiting.isEmpty && key.running == 0 {
                keys[name] = nil  // idle and past its spacing: forget it
            } else {
                wakeWaiting(name)
            }
        }
        return next
    }

    /// The best ready job for a worker serving `handlers`, leased to `worker` as its next attempt;
    /// nil if none may start now. A job whose key is at its limit or inside its spacing waits in
    /// the key's line instead, and does not hold up the others.
    mutating func lease(for handlers: Set<String>, to worker: [UInt8], now: UInt64) -> ScheduledJob? {
        while true {
            var best: (handler: String, entry: ReadyEntry)?
            for handler in handlers {
                // Skip entries of jobs removed or leased since (in place: a copy of the heap
                // would cost O(queued) per skipped entry).
                while let top = ready[handler]?.max, jobs[top.id] == nil || jobs[top.id]!.lease != nil {
                    ready[handler]!.removeMax()
                }
                if let top = ready[handler]?.max, best == nil || best!.entry < top { best = (handler, top) }
            }
            guard let (handler, entry) = best else { return nil }
            ready[handler]!.removeMax()
            var job = jobs[entry.id]!
            let keyName = job.concurrencyKey
            if !keyName.isEmpty {
                var key = keys[keyName] ?? Key()
                let limit = Int(job.concurrencyLimit)
                if (limit > 0 && key.running >= limit) || now < key.nextStart {
                    key.waiting.append(job.id)
                    keys[keyName] = key
                    continue
                }
                key.running += 1
                key.nextStart = now + UInt64(job.spacingMilliseconds)
                keys[keyName] = key
            }
            job.attempts += 1
            job.lease = (worker, job.attempts)
            jobs[job.id] = job
            leasedCount += 1
            return job
        }
    }

    /// Takes a job out (done, dead, cancelled), releasing its key if it was running.
    @discardableResult
    mutating func remove(_ id: UInt64) -> ScheduledJob? {
        guard let job = jobs.removeValue(forKey: id) else { return nil }
        if job.lease != nil {
            leasedCount -= 1
            release(job)
        } else if let name = job.concurrencyKey.nilIfEmpty, var key = keys[name] {
            key.waiting.removeAll { $0 == id }
            keys[name] = key
        }
        return job
    }

    /// Ends a job's lease without ending the job: it waits until `notBefore` (a retry's backoff)
    /// or is ready at once (a lost worker, a job given back).
    mutating func unlease(_ id: UInt64, now: UInt64, notBefore: UInt64 = 0, lost: Bool = false) {
        guard var job = jobs[id], job.lease != nil else { return }
        job.lease = nil
        if lost { job.lost += 1 }
        jobs[id] = job
        leasedCount -= 1
        release(job)
        add(job, now: now, notBefore: notBefore)
    }

    /// The jobs a worker holds.
    func leases(of worker: [UInt8]) -> [ScheduledJob] { jobs.values.filter { $0.lease?.worker == worker } }

    /// Makes `worker` the holder of a job it says it still runs (a worker reconnecting after a
    /// dispatcher restart); false if the job is unknown, leased to another, or done.
    mutating func adopt(_ lease: Lease, by worker: [UInt8]) -> Bool {
        guard var job = jobs[lease.job], job.lease == nil else { return false }
        job.attempts = max(job.attempts, lease.attempt)
        job.lease = (worker, lease.attempt)
        jobs[lease.job] = job
        leasedCount += 1
        if let name = job.concurrencyKey.nilIfEmpty {
            var key = keys[name] ?? Key()
            key.running += 1
            key.waiting.removeAll { $0 == lease.job }
            keys[name] = key
        }
        return true
    }

    private mutating func makeReady(_ id: UInt64) {
        guard let job = jobs[id] else { return }
        ready[job.handler, default: Heap()].insert(ReadyEntry(priority: job.priority, id: id))
    }

    private mutating func release(_ job: ScheduledJob) {
        guard let name = job.concurrencyKey.nilIfEmpty, var key = keys[name] else { return }
        key.running -= 1
        keys[name] = key
        wakeWaiting(name)
    }

    /// Puts a key's waiting jobs back in the ready heaps (they are tried again in priority order).
    private mutating func wakeWaiting(_ name: String) {
        guard var key = keys[name] else { return }
        let waiting = key.waiting
        key.waiting = []
        keys[name] = key
        for id in waiting { makeReady(id) }
    }
}

extension String {
    /// nil for the empty string.
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
