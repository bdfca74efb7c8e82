// Evergreen docs, "Queue.join": worker green threads take items, mark each done, and the main
// green thread waits until every item has been processed.
//   swift run example-queue-workers [workers] [items]
import Evy

let workers = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 4
let items = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 20

func doWork(_ item: Int) async throws -> Int {
    try await sleep(for: .milliseconds(10))
    return item * item
}

try Hub.run {
    let queue = Queue<Int>()
    for number in 0..<workers {
        spawnN(name: "worker-\(number)") {
            while true {
                let item = try await queue.get()
                let result = try await doWork(item)
                print("\(CurrentGreenThread.name ?? "?") did \(item) -> \(result)")
                try queue.taskDone()
            }
        }
    }
    for item in 0..<items { try await queue.put(item) }
    try await queue.join()  // until every item is done
    print("all \(items) items processed by \(workers) workers")
}
