// A worker of your own: register handlers by name and run. Start a dispatcher and a collector
// (scripts/run shows how), then:
//   swift run example-job-worker tcp://127.0.0.1:5556 tcp://127.0.0.1:5557
//   evy submit wordcount "the quick brown fox" --wait
import Evy
import EvyJobs
import Glibc

let arguments = CommandLine.arguments
let dispatcher = arguments.count > 1 ? arguments[1] : "tcp://127.0.0.1:5556"
let collector = arguments.count > 2 ? arguments[2] : "tcp://127.0.0.1:5557"

try Hub.run {
    var configuration = Worker.Configuration(dispatcher: dispatcher, collector: collector)
    configuration.slots = 50
    let worker = Worker(configuration: configuration)

    // A handler gets the job's payload and returns the result's bytes.
    worker.handle("wordcount") { job in
        let words = job.text.split(whereSeparator: \.isWhitespace).count
        return Array("\(words)".utf8)
    }

    // Report progress, fail with or without a retry, and give long work to the thread pool.
    worker.handle("checksum") { job in
        guard !job.payload.isEmpty else { throw JobFailure("nothing to sum", retryable: false) }
        job.progress(0, of: 1, "summing")
        let sum = try await tpool.execute { job.payload.reduce(0) { ($0 &* 31) &+ UInt64($1) } }
        job.progress(1, of: 1, "done")
        return Array(String(sum, radix: 16).utf8)
    }

    _ = try Hub.current.addSignalHandler(SIGTERM) { spawnN { await worker.drain(grace: .seconds(10)) } }
    print("worker: wordcount, checksum on \(dispatcher)")
    fflush(nil)
    try await worker.run()
}
