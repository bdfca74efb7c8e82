// Eventlet overview, "event": one green thread sends, five waiters all get the value; waiting again
// gives the same value at once, sending twice is an error.
//   swift run example-event-waiters
import Evy

try Hub.run {
    let event = Event<String>()
    let waiters = (0..<5).map { number in
        spawn {
            let result = try await event.wait()
            print(number, result)
        }
    }
    try await sleep(for: .milliseconds(500))
    try event.send("hello")
    for waiter in waiters { try await waiter.wait() }
    print("again:", try await event.wait())
    do { try event.send("twice") } catch { print("second send refused:", error) }
}
