import Evy
import EvyCrawler
import EvyFeeds
import EvyHTTP
import EvyJobs
import Foundation

/// The handlers shipped with Evy, for trying the system out, for tests and for benchmarks:
/// - `noop`: returns at once, with an empty result.
/// - `sleep`: sleeps for the payload's milliseconds (text, e.g. `10`), then returns it.
/// - `whoami`: sleeps for the payload's milliseconds (if any), then returns the worker's name
///   (which worker on which machine ran it).
/// - `fail`: fails; retryable when the payload is `retryable`, for good otherwise.
/// - `fetch`: GETs the payload's URL and returns `{"status": 200, "bytes": 1234}`; a connection
///   failure or a 5xx is retryable, a 4xx is the result.
/// - `crawl.fetch`: one page of a crawl (``CrawlFetcher``, started by `evy crawl`).
/// - `feeds.poll`: one poll of a feed (``FeedPoller``, started by `evy feeds`).
public enum StandardHandlers {
    /// Every handler's name.
    public static let names = ["noop", "sleep", "whoami", "fail", "fetch", CrawlFetcher.handlerName, FeedPoller.handlerName]

    /// Registers the handlers `names` on `worker`; throws for a name it does not have.
    public static func register(_ names: [String], on worker: Worker) throws {
        let client = HTTPClient()
        for name in names {
            switch name {
            case "noop": worker.handle("noop") { _ in [] }
            case "sleep":
                worker.handle("sleep") { job in
                    try await sleep(for: .milliseconds(Int64(job.text.trimmingCharacters(in: .whitespaces)) ?? 0))
                    return job.payload
                }
            case "whoami":
                let name = Array(worker.configuration.name.utf8)
                worker.handle("whoami") { job in
                    try await sleep(for: .milliseconds(Int64(job.text.trimmingCharacters(in: .whitespaces)) ?? 0))
                    return name
                }
            case "fail":
                worker.handle("fail") { job in
                    throw JobFailure("asked to fail: \(job.text)", retryable: job.text == "retryable")
                }
            case "fetch":
                worker.handle("fetch") { job in
                    let response: HTTPClientResponse
                    do {
                        response = try await client.get(job.text)
                    } catch let error as HTTPClientError {
                        if case .invalidURL = error { throw JobFailure("\(error)", retryable: false) }
                        throw JobFailure("\(error)", retryable: true)
                    }
                    if response.status >= 500 { throw JobFailure("HTTP \(response.status)", retryable: true) }
                    return Array("{\"status\": \(response.status), \"bytes\": \(response.body.count)}".utf8)
                }
            case CrawlFetcher.handlerName:
                CrawlFetcher().register(on: worker)
            case FeedPoller.handlerName:
                FeedPoller().register(on: worker)
            default:
                throw JobFailure(
                    "no handler named \(name); there are \(StandardHandlers.names.joined(separator: ", "))",
                    retryable: false)
            }
        }
    }
}
