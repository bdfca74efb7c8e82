// Evergreen docs, "The Event Loop": callbacks scheduled soon, later and at a time, a signal
// handler, then `run` returns when no work is left.
//   swift run example-event-loop
import Evy
import Foundation

let hub = Hub.main
let start = hub.now
func stamp(_ what: String) { print("\(start.duration(to: hub.now)): \(what)") }

hub.callSoon { stamp("call_soon") }
hub.callLater(.milliseconds(20)) { stamp("call_later 20 ms") }
hub.callAt(start.advanced(by: .milliseconds(10))) { stamp("call_at +10 ms") }
let cancelled = hub.callLater(.milliseconds(5)) { stamp("never printed") }
cancelled.cancel()
let usr1 = try hub.addSignalHandler(SIGUSR1) { stamp("SIGUSR1 handled") }
hub.callLater(.milliseconds(30)) {
    kill(getpid(), SIGUSR1)
    hub.callLater(.milliseconds(10)) { usr1.cancel() }
}
// The one thread-safe entry: another thread hands work to the hub (the timers above keep it alive).
Thread.detachNewThread { hub.callFromThread { stamp("call_from_thread") } }
hub.runUntilIdle()
stamp("run() returned: no work left")
