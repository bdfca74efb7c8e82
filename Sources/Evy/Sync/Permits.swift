import DequeModule

/// A counter of permits with a FIFO of green threads waiting for one. A released permit goes
/// straight to the first waiter, so a late arrival cannot overtake it. Shared by ``Semaphore``,
/// ``BoundedSemaphore`` and ``Lock``. Hub-confined.
final class Permits {
    private(set) var available: Int
    private var waiters = WaiterQueue<Waiter<Void>>()

    init(_ available: Int) { self.available = available }

    var waitingCount: Int { waiters.liveCount }

    func tryTake() -> Bool {
        guard available > 0 else { return false }
        available -= 1
        return true
    }

    /// Takes a permit, waiting up to `timeout`; false if the time ran out.
    func take(timeout: Duration?) async throws -> Bool {
        if tryTake() { return true }
        let hub = Hub.current
        do {
            hub.nextWaitLabel.pointee = "lock or semaphore"
            try await hub.park(deadline: hub.deadline(after: timeout)) { waiter in
                if tryTake() { waiter.resume(returning: ()) } else { waiters.append(waiter) }
            }
            return true
        } catch is ParkTimedOut {
            return false
        }
    }

    /// Takes a permit even if the task is cancelled (used to re-acquire a lock on the way out).
    func takeUninterruptibly() async {
        if tryTake() { return }
        await Hub.current.parkUninterruptibly { waiter in
            if tryTake() { waiter.resume(returning: ()) } else { waiters.append(waiter) }
        }
    }

    /// Hands a permit to the first live waiter, or adds it to the counter.
    func give() {
        while let waiter = waiters.popFirst() {
            if waiter.resume(returning: ()) { return }
        }
        available += 1
    }
}
