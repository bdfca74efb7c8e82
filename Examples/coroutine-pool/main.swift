// Eventlet overview, "CoroutinePool": twenty slow jobs on a pool of five. `execute` is
// `pool.spawn` (a handle to wait on); `execute_async` is `pool.spawnN` (no handle).
//   swift run example-coroutine-pool
import Evy

try Hub.run {
    let pool = GreenPool(size: 5)
    let start = ContinuousClock.now
    for x in 0..<20 {
        try await pool.spawnN {
            try await sleep(for: .seconds(1))
            print("slow", x)
        }
    }
    let answer = try await pool.spawn { () async throws -> Int in
        try await sleep(for: .milliseconds(100))
        return 42
    }
    print("the executed function returned", try await answer.wait())
    try await pool.waitAll()
    print("20 one-second jobs, 5 at a time, took", start.duration(to: .now))
}
