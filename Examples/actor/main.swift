// Eventlet overview, "Actor": an object with its own green thread and a mailbox. Senders cast
// messages and go on at once; the actor processes them one by one.
//   swift run example-actor
import Evy

try Hub.run {
    let actor = GreenActor<Int> { event in
        try await sleep(for: .seconds(1))
        print("actor", event)
    }
    for x in 0..<10 {
        spawnN {
            actor.cast(x)
            print("sender", x)
        }
    }
    try await sleep(for: .zero)
    try await actor.waitUntilIdle()
}
