@testable import EvyJobs

/// One sample of every message, with non-ASCII strings, empty and maximal values: what the
/// round-trip and golden-file tests encode.
enum CodecSamples {
    static let options: JobOptions = {
        var options = JobOptions()
        options.priority = 255
        options.notBefore = 1_700_000_000_000
        options.maxRetries = 3
        options.timeoutMilliseconds = 30_000
        options.dedupKey = "commande-n°42"
        options.concurrencyKey = ""
        options.concurrencyLimit = .max
        options.spacingMilliseconds = 250
        return options
    }()

    static let all: [Message] = [
        .submit(request: 1, handler: "resize-🖼", options: options, payload: Array("{\"w\":640}".utf8)),
        .submitted(request: .max, job: 7, duplicate: true),
        .cancel(request: 2, job: 0),
        .cancelled(request: 2, job: 9, outcome: .alreadyDone),
        .query(request: 3, topic: "status", after: .max, limit: .max),
        .answer(request: 3, json: Array("{\"état\":\"queued\"}".utf8)),
        .deadLetters(request: 4, action: .purge, job: 0),
        .ready(
            Ready(
                role: .worker, name: "wörker-1", host: "hôte.example", pid: 4242, slots: 8, heartbeatMilliseconds: 1000,
                handlers: ["resize-🖼", "", "mail"], held: [Lease(job: 5, attempt: 1), Lease(job: .max, attempt: .max)])),
        .welcome(heartbeatMilliseconds: 1000, liveness: 3),
        .job(Lease(job: 10, attempt: 2), handler: "mail", timeoutMilliseconds: 0, payload: []),
        .credit(slots: 1),
        .failed(Lease(job: 10, attempt: 2), retryable: false, error: "délai dépassé"),
        .abort(job: .max),
        .giveBack(Lease(job: 11, attempt: 1)),
        .drain,
        .heartbeat,
        .done([
            Completion(lease: Lease(job: 10, attempt: 3), status: .succeeded),
            Completion(lease: Lease(job: 12, attempt: 1), status: .dead),
        ]),
        .doneAcknowledged(jobs: [10, 12]),
        .record(Lease(job: 12, attempt: 4), handler: "mail", status: .dead, error: "trop d'échecs"),
        .result(
            Lease(job: 10, attempt: 3), handler: "mail", status: .succeeded, durationMicroseconds: .max,
            payload: [0, 1, 2, 0xFF]),
        .recorded(jobs: []),
        .progress(Lease(job: 13, attempt: 1), done: 50, total: 100, message: "à mi-chemin"),
        .wait(request: 5, jobs: [10, 13, .max]),
        .outcome(request: 5, job: 13, attempt: 1, status: .failed, handler: "mail", payload: Array("échec".utf8)),
        .progressNote(request: 5, job: 13, done: 0, total: 0, message: ""),
        .error(request: 6, code: .unsupportedVersion, reason: "version 2, not 1 — désolé"),
    ]
}
