import CLibUV
import HeapModule

struct TimerEntry: Comparable {
    let deadline: ContinuousClock.Instant
    let sequence: UInt64
    let handle: Handle

    static func < (a: TimerEntry, b: TimerEntry) -> Bool {
        a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence)
    }

    static func == (a: TimerEntry, b: TimerEntry) -> Bool {
        a.deadline == b.deadline && a.sequence == b.sequence
    }
}

extension Hub {
    /// Schedules `callback` to run on the hub as soon as possible, after work already queued.
    @discardableResult
    public func callSoon(_ callback: @escaping () -> Void) -> Handle {
        assertOnHubThread("Hub.callSoon")
        let handle = Handle(hub: self, callback)
        schedule(.callback(handle))
        return handle
    }

    /// Schedules `callback` to run on the hub's thread. The one hub method any thread may call.
    @discardableResult
    public func callFromThread(_ callback: @escaping @Sendable () -> Void) -> Handle {
        let handle = Handle(hub: self, callback)
        schedule(.callback(handle))
        return handle
    }

    /// Schedules `callback` to run once `delay` has passed (never earlier).
    @discardableResult
    public func callLater(_ delay: Duration, _ callback: @escaping () -> Void) -> Handle {
        callAt(now.advanced(by: max(delay, .zero)), callback)
    }

    /// Schedules `callback` to run once the hub's clock reaches `deadline` (never earlier).
    @discardableResult
    public func callAt(_ deadline: ContinuousClock.Instant, _ callback: @escaping () -> Void) -> Handle {
        assertOnHubThread("Hub.callAt")
        let handle = Handle(hub: self, isTimer: true, callback)
        timers.insert(TimerEntry(deadline: deadline, sequence: nextTimerSequence(), handle: handle))
        liveTimers += 1
        armTimer()
        return handle
    }

    func timerCancelled() {
        liveTimers -= 1
        if liveTimers == 0 {
            timers = Heap()
            disarmTimer()
        } else if timers.count > 64 && timers.count > 4 * liveTimers {
            // Cancelled timers wait in the heap until their deadline; compact once they dominate.
            timers = Heap(timers.unordered.filter { !$0.handle.isCancelled })
        }
    }

    private func disarmTimer() {
        uv_timer_stop(timerHandle)
        armedDeadline = nil
    }

    /// Points the single libuv timer at the earliest live deadline.
    func armTimer() {
        while let first = timers.min, first.handle.isCancelled { _ = timers.removeMin() }
        guard let first = timers.min else { return disarmTimer() }
        if let armed = armedDeadline, armed <= first.deadline,
            uv_is_active(timerHandle.withMemoryRebound(to: uv_handle_t.self, capacity: 1) { $0 }) != 0
        {
            return
        }
        let remaining = now.duration(to: first.deadline)
        // libuv counts whole milliseconds from its cached time: round up, and re-check on firing.
        let ms = remaining <= .zero ? 0 : UInt64((remaining / .milliseconds(1)).rounded(.up))
        uv_update_time(loop)
        armedDeadline = first.deadline
        uv_timer_start(
            timerHandle,
            { handle in
                Hub.from(handle!.pointee.data).fireDueTimers()
            }, ms, 0)
    }

    private func fireDueTimers() {
        armedDeadline = nil
        let current = now
        while let first = timers.min, first.deadline <= current || first.handle.isCancelled {
            let entry = timers.removeMin()
            if entry.handle.isCancelled { continue }
            liveTimers -= 1
            entry.handle.fire()
        }
        armTimer()
    }
}
