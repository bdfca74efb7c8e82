import Evy

/// What ``JobPile`` and ``JobSet`` share: submits jobs in the background and hands each job's
/// outcome, or why there is none (a refused submit, a collector that refused the question, a
/// closed client), to the waiter given with it. One registration at the collector for all the
/// jobs; a job a dedup key made the same as another's reaches both waiters. Hub-confined.
final class OutcomeRouter<Waiter: Sendable>: @unchecked Sendable {
    private let client: JobClient
    private let route: (Waiter, Result<JobOutcome, any Error>) -> Void
    private var waiting: [UInt64: [Waiter]] = [:]
    private var request: UInt64 = 0
    /// Why the registration ended, once it has: everything still out, and anything submitted
    /// later, gets this.
    private var ended: (any Error)?

    /// A router through `client` calling `route` once per submitted job. Throws
    /// ``JobClientError/noCollector`` if the client has no collector endpoint.
    init(client: JobClient, route: @escaping (Waiter, Result<JobOutcome, any Error>) -> Void) throws {
        self.client = client
        self.route = route
        let wait = OutcomeWait(
            jobs: [], endsWhenEmpty: false,
            deliver: { [weak self] outcome in
                guard let self else { return }
                for waiter in waiting.removeValue(forKey: outcome.job) ?? [] { route(waiter, .success(outcome)) }
            },
            end: { [weak self] error in
                guard let self else { return }
                let failure = error ?? JobClientError.noAnswer("outcomes (closed)")
                ended = failure
                let all = waiting.values.flatMap { $0 }
                waiting = [:]
                for waiter in all { route(waiter, .failure(failure)) }
            })
        request = try client.register(wait)
    }

    deinit { client.forget(request) }

    /// Submits a job in the background (returns at once); `waiter` hears of its outcome. A
    /// dispatcher that answers busy (too many of this client's submits waiting for its journal) or
    /// that its journal cannot write (a full disk) is asked again after a pause, 10 ms doubling to
    /// 1 s, for up to a minute, then the refusal is the job's outcome; so is one that
    /// does not answer (restarting) when the job has a dedup key, which makes a second submit of
    /// a job the dispatcher did take that same job.
    func submit(_ handler: String, payload: [UInt8], options: JobOptions, for waiter: Waiter) {
        spawnN { [self] in
            do {
                let job = try await submitPatiently(handler, payload: payload, options: options)
                if let ended { return route(waiter, .failure(ended)) }
                waiting[job, default: []].append(waiter)
                if !client.ask(for: [job], in: request) {
                    waiting[job] = nil
                    route(waiter, .failure(ended ?? JobClientError.noAnswer("outcomes (closed)")))
                }
            } catch {
                route(waiter, .failure(error))
            }
        }
    }

    private func submitPatiently(_ handler: String, payload: [UInt8], options: JobOptions) async throws -> UInt64 {
        var pause = Duration.milliseconds(10)
        let giveUp = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await client.submit(handler, payload: payload, options: options)
            } catch JobClientError.refused(let code, _)
                where (code == .busy || code == .storageUnavailable) && ContinuousClock.now + pause < giveUp
            {
                try await sleep(for: pause)
                pause = min(pause * 2, .seconds(1))
            } catch JobClientError.noAnswer where !options.dedupKey.isEmpty && ContinuousClock.now + pause < giveUp {
                pause = min(pause * 2, .seconds(1))  // the wait for the answer was the pause
            }
        }
    }
}
