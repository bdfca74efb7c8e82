import Evy

/// Who waits at the collector for which job's outcome, bounded in what a client can make it keep:
///
/// - a client (one connection) waits for at most ``maxJobsPerClient`` jobs at once; the jobs of a
///   WAIT beyond that room are not registered and ``add(_:for:now:)`` returns them (the collector
///   answers those already recorded and refuses the rest busy; the client asks again later);
/// - a registration (a client's request id) that neither asked again nor heard of one of its jobs
///   for ``lifetime`` is dropped by ``expire(now:)``: its client has gone, or waits for jobs that
///   never end (ids never given). A live ``JobClient`` asks again about jobs still to come well
///   within it (at least every 12 × `outcomeRefresh`).
///
/// Asking again for a job already waited for adds nothing but renews the registration. A
/// registration always waits for at least one job. A value type owned by the collector, on its hub.
struct OutcomeWaiters {
    /// One registration: a client's connection and its request id.
    struct Waiter: Hashable {
        let client: [UInt8]
        let request: UInt64
    }

    private struct Registration {
        var jobs: Set<UInt64> = []
        var lastActive: ContinuousClock.Instant
    }

    let maxJobsPerClient: Int
    let lifetime: Duration
    private var byJob: [UInt64: [Waiter]] = [:]
    private var registrations: [Waiter: Registration] = [:]
    private var jobsPerClient: [[UInt8]: Int] = [:]

    init(maxJobsPerClient: Int, lifetime: Duration) {
        self.maxJobsPerClient = maxJobsPerClient
        self.lifetime = lifetime
    }

    /// Jobs someone waits for.
    var jobCount: Int { byJob.count }

    /// Registers `waiter` for as many of `jobs` as its client has room for and renews its
    /// registration; returns the jobs left out (none when the client stays within
    /// ``maxJobsPerClient``).
    mutating func add(_ jobs: [UInt64], for waiter: Waiter, now: ContinuousClock.Instant) -> [UInt64] {
        registrations[waiter]?.lastActive = now
        let fresh = Array(unregistered(jobs, for: waiter))
        let load = jobsPerClient[waiter.client, default: 0]
        let admitted = fresh.prefix(max(0, maxJobsPerClient - load))
        guard !admitted.isEmpty else { return fresh }
        // Changed in place (a copy of a registration would copy its set for every job).
        if registrations[waiter] == nil { registrations[waiter] = Registration(lastActive: now) }
        registrations[waiter]!.jobs.formUnion(admitted)
        jobsPerClient[waiter.client] = load + admitted.count
        for job in admitted { byJob[job, default: []].append(waiter) }
        return Array(fresh[admitted.endIndex...])
    }

    private func unregistered(_ jobs: [UInt64], for waiter: Waiter) -> Set<UInt64> {
        guard let known = registrations[waiter]?.jobs else { return Set(jobs) }
        return Set(jobs.lazy.filter { !known.contains($0) })
    }

    /// Who waits for `job` (for its progress notes); marks them active.
    mutating func waiters(of job: UInt64, now: ContinuousClock.Instant) -> [Waiter] {
        let list = byJob[job] ?? []
        for waiter in list { registrations[waiter]?.lastActive = now }
        return list
    }

    /// Removes and returns who waits for `job` (its outcome is going to them).
    mutating func take(_ job: UInt64, now: ContinuousClock.Instant) -> [Waiter] {
        let list = byJob.removeValue(forKey: job) ?? []
        for waiter in list { forget(job, of: waiter, now: now) }
        return list
    }

    /// Removes `waiter`'s wait for `job` (its outcome was found recorded); false if it had none.
    mutating func remove(_ job: UInt64, from waiter: Waiter, now: ContinuousClock.Instant) -> Bool {
        guard unlink(job, from: waiter) else { return false }
        forget(job, of: waiter, now: now)
        return true
    }

    /// Takes `waiter` off `job`'s list; false if it was not on it.
    private mutating func unlink(_ job: UInt64, from waiter: Waiter) -> Bool {
        guard let index = byJob[job]?.firstIndex(of: waiter) else { return false }
        byJob[job]!.remove(at: index)
        if byJob[job]!.isEmpty { byJob[job] = nil }
        return true
    }

    /// Drops the registrations idle for longer than ``lifetime``; returns how many jobs' waits went.
    mutating func expire(now: ContinuousClock.Instant) -> Int {
        let idle = registrations.filter { now - $0.value.lastActive > lifetime }
        for (waiter, registration) in idle {
            for job in registration.jobs { _ = unlink(job, from: waiter) }
            registrations[waiter] = nil
            let load = jobsPerClient[waiter.client, default: 0] - registration.jobs.count
            jobsPerClient[waiter.client] = load > 0 ? load : nil
        }
        return idle.values.reduce(0) { $0 + $1.jobs.count }
    }

    private mutating func forget(_ job: UInt64, of waiter: Waiter, now: ContinuousClock.Instant) {
        guard registrations[waiter]?.jobs.remove(job) != nil else { return }
        let load = jobsPerClient[waiter.client, default: 1] - 1
        jobsPerClient[waiter.client] = load > 0 ? load : nil
        if registrations[waiter]!.jobs.isEmpty {
            registrations[waiter] = nil
        } else {
            registrations[waiter]!.lastActive = now
        }
    }
}
