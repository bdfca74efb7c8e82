// Eventlet overview, "channel": five producers and five consumers meet on one channel. Every send
// waits until a consumer takes the value; nothing is buffered.
//   swift run example-channel-producer-consumer
import Evy

try Hub.run {
    let channel = Channel<(producer: Int, iteration: Int)>()
    let done = Queue<String>()
    for number in 0..<5 {
        spawnN {
            for iteration in 0..<5 { try await channel.send((number, iteration)) }
            try done.putNowait("P\(number)")
        }
        spawnN {
            for _ in 0..<5 {
                let (producer, iteration) = try await channel.receive()
                print("C\(number)P\(producer) \(iteration)")
            }
            try done.putNowait("C\(number)")
        }
    }
    var finished: [String] = []
    for _ in 0..<10 { finished.append(try await done.get()) }
    print("done:", finished.sorted().joined(separator: " "))
}
