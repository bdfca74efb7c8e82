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
/// it comes up. Every operation is O(log n) in the jobs it holds (a key's waiting line too: a
/// slot freed wakes one waiting job, a spacing that passes wakes as many as the key has room for),
/// so a crawl with 100,000 queued pages of one host costs no more per page than one of ten.
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

    /// A concurrency key: how many of its jobs run, when the next may start, and its jobs that
    /// came up while it had no room, best first.
    private struct Key {
        var running = 0
        var nextStart: UInt64 = 0
        /// The limit of the jobs that wait (each job carries its key's limit; 0: none).
        var limit = 0
        var waiting = Heap<ReadyEntry>()
        /// The time a ``KeyTimer`` is queued for, if one is.
        var timer: UInt64?
    }

    /// When a key's spacing ends (to wake its waiting jobs, or to forget it once idle).
    private struct KeyTimer: Comparable {
        let due: UInt64
        let name: String
        static func < (a: Self, b: Self) -> Bool { a.due < b.due }
        static func == (a: Self, b: Self) -> Bool { a.due == b.due && a.name == b.name }
    }

    private(set) var jobs: [UInt64: ScheduledJob] = [:]
    private var ready: [String: Heap<ReadyEntry>] = [:]
    private var delayed = Heap<DelayedEntry>()
    private var keys: [String: Key] = [:]
    private var keyTimers = Heap<KeyTimer>()
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
        while let timer = keyTimers.min, timer.due <= now {
            keyTimers.removeMin()
            // Fields read one by one: a copy of the key held across `wake` would copy its line.
            guard keys[timer.name]?.timer == timer.due else { continue }  // superseded, or forgotten
            keys[timer.name]!.timer = nil
            let (nextStart, limit, running) = (
                keys[timer.name]!.nextStart, keys[timer.name]!.limit, keys[timer.name]!.running
            )
            if nextStart > now {
                arm(timer.name, at: nextStart)
            } else {
                wake(timer.name, count: limit > 0 ? max(0, limit - running) : 1)
                forgetIfIdle(timer.name, now: now)
            }
        }
        return nextDue
    }

    /// The next time a delayed job or a key's spacing comes due (nil: nothing waits for a time).
    var nextDue: UInt64? { [delayed.min?.due, keyTimers.min?.due].compactMap { $0 }.min() }

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
                // In place (`keys[name, default:]`): a copy of the key would copy its waiting line.
                let limit = Int(job.concurrencyLimit)
                let atLimit = limit > 0 && keys[keyName, default: Key()].running >= limit
                let spacing = now < keys[keyName, default: Key()].nextStart
                if atLimit || spacing {
                    keys[keyName, default: Key()].waiting.insert(entry)
                    keys[keyName]!.limit = limit
                    // At its limit, a finished job wakes the next; inside the spacing, a timer does.
                    if spacing && !atLimit { arm(keyName, at: keys[keyName]!.nextStart) }
                    continue
                }
                keys[keyName, default: Key()].running += 1
                keys[keyName]!.nextStart = now + UInt64(job.spacingMilliseconds)
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
        }
        // A job in its key's waiting line stays there as a stale entry, skipped when it comes up.
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
        if let name = job.concurrencyKey.nilIfEmpty { keys[name, default: Key()].running += 1 }
        return true
    }

    private mutating func makeReady(_ id: UInt64) {
        guard let job = jobs[id] else { return }
        ready[job.handler, default: Heap()].insert(ReadyEntry(priority: job.priority, id: id))
    }

    /// A running job of the key ends: its slot goes to the best waiting job (if the key's spacing
    /// holds it back, it waits again for its timer).
    private mutating func release(_ job: ScheduledJob) {
        guard let name = job.concurrencyKey.nilIfEmpty, keys[name] != nil else { return }
        keys[name]!.running -= 1
        wake(name, count: 1)
        if keys[name]!.running == 0 && keys[name]!.waiting.isEmpty {
            // Idle: forgotten once its spacing has passed (so the next job still keeps it).
            if keys[name]!.nextStart == 0 { keys[name] = nil } else { arm(name, at: keys[name]!.nextStart) }
        }
    }

    /// Moves up to `count` of a key's waiting jobs (the best first, stale entries dropped) back to
    /// the ready heaps, where they are leased in priority order.
    private mutating func wake(_ name: String, count: Int) {
        var woken = 0
        while woken < count, let entry = keys[name]?.waiting.max {
            keys[name]!.waiting.removeMax()
            guard let job = jobs[entry.id], job.lease == nil else { continue }
            ready[job.handler, default: Heap()].insert(entry)
            woken += 1
        }
    }

    /// Queues the key's timer for `due`, unless one is queued for then already.
    private mutating func arm(_ name: String, at due: UInt64) {
        guard keys[name]?.timer != due else { return }
        keys[name]!.timer = due
        keyTimers.insert(KeyTimer(due: due, name: name))
    }

    /// Forgets a key that has nothing running, nothing waiting and its spacing behind it.
    private mutating func forgetIfIdle(_ name: String, now: UInt64) {
        guard keys[name]?.running == 0, keys[name]!.nextStart <= now, keys[name]!.timer == nil else { return }
        while let top = keys[name]!.waiting.max, jobs[top.id] == nil || jobs[top.id]!.lease != nil {
            keys[name]!.waiting.removeMax()
        }
        if keys[name]!.waiting.isEmpty { keys[name] = nil }
    }
}

extension String {
    /// nil for the empty string.
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
