import CLibUV

/// The libuv poll handle of one file descriptor, shared by its reader and its writer (libuv allows
/// one poll handle per descriptor).
final class FDWatcher {
    let fd: Int32
    let poll: UnsafeMutablePointer<uv_poll_t>
    var reader: Handle?
    var writer: Handle?
    /// Green threads parked in ``Hub/wait(for:on:timeout:)``.
    var readWaiter: Waiter<Void>?
    var writeWaiter: Waiter<Void>?
    var events: Int32 = 0
    /// Whether the poll handle stays armed between waits. Only for descriptors whose owner calls
    /// `notifyClose` before closing them (Evy's sockets and pipes): a handle left armed on a
    /// descriptor closed behind libuv's back would watch a reused number.
    var keepArmed = false

    init(fd: Int32, poll: UnsafeMutablePointer<uv_poll_t>) {
        self.fd = fd
        self.poll = poll
    }

    func setWaiter(_ waiter: Waiter<Void>, for readiness: IOReadiness) {
        if readiness == .readable { readWaiter = waiter } else { writeWaiter = waiter }
    }

    /// Wakes the parked waiters for `events` (both on an error), with `error` if given.
    func wake(readable: Bool, writable: Bool, error: (any Error)? = nil) {
        for waiter in [readable ? readWaiter : nil, writable ? writeWaiter : nil].compactMap({ $0 }) {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: ()) }
        }
    }
}

extension Hub {
    /// Calls `callback` on the hub each time `fd` is readable, until the returned handle is
    /// cancelled or ``removeReader(_:)`` is called. A descriptor has at most one reader: adding
    /// another replaces it.
    @discardableResult
    public func addReader(_ fd: Int32, _ callback: @escaping () -> Void) throws -> Handle {
        try addWatch(fd, readable: true, callback)
    }

    /// Calls `callback` on the hub each time `fd` is writable, until the returned handle is
    /// cancelled or ``removeWriter(_:)`` is called. A descriptor has at most one writer.
    @discardableResult
    public func addWriter(_ fd: Int32, _ callback: @escaping () -> Void) throws -> Handle {
        try addWatch(fd, readable: false, callback)
    }

    /// Stops calling the reader of `fd`. Returns whether there was one.
    @discardableResult
    public func removeReader(_ fd: Int32) -> Bool {
        guard let handle = watchers[fd]?.reader else { return false }
        handle.cancel()
        return true
    }

    /// Stops calling the writer of `fd`. Returns whether there was one.
    @discardableResult
    public func removeWriter(_ fd: Int32) -> Bool {
        guard let handle = watchers[fd]?.writer else { return false }
        handle.cancel()
        return true
    }

    private func addWatch(_ fd: Int32, readable: Bool, _ callback: @escaping () -> Void) throws -> Handle {
        assertOnHubThread(readable ? "Hub.addReader" : "Hub.addWriter")
        let watcher = try watcher(for: fd)
        var handleRef: Handle?
        let handle = Handle(
            hub: self,
            onCancel: { [unowned self] in
                guard let watcher = self.watchers[fd] else { return }
                if readable, watcher.reader === handleRef { watcher.reader = nil }
                if !readable, watcher.writer === handleRef { watcher.writer = nil }
                handleRef = nil
                self.updatePoll(watcher)
            }, callback)
        handleRef = handle
        // Install the new handle before cancelling the old one, so the poll handle stays open.
        let replaced = readable ? watcher.reader : watcher.writer
        if readable { watcher.reader = handle } else { watcher.writer = handle }
        replaced?.cancel()
        updatePoll(watcher)
        return handle
    }

    /// Marks `fd` as owned by an Evy I/O type that calls ``notifyClose(_:)`` before closing it, so
    /// its poll handle may stay armed between waits.
    func keepArmed(_ fd: Int32) throws {
        try watcher(for: fd).keepArmed = true
    }

    private func watcher(for fd: Int32) throws -> FDWatcher {
        if let existing = watchers[fd] { return existing }
        let poll = UnsafeMutablePointer<uv_poll_t>.allocate(capacity: 1)
        let status = uv_poll_init(loop, poll, fd)
        guard status == 0 else {
            poll.deallocate()
            throw WatchError.cannotWatch(fd: fd, UVError(status))
        }
        let watcher = FDWatcher(fd: fd, poll: poll)
        poll.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        watchers[fd] = watcher
        return watcher
    }

    /// Points the descriptor's poll handle at what its reader and writer wait for. When nobody
    /// waits, the handle stays armed but stops keeping the loop alive: a descriptor is usually
    /// waited on again moments later (a request, then the next one), and re-arming costs two
    /// `epoll_ctl` calls per wait. `pollFired` trims interest nobody has.
    private func updatePoll(_ watcher: FDWatcher) {
        let wanted = wantedEvents(watcher)
        let handle = UnsafeMutableRawPointer(watcher.poll).assumingMemoryBound(to: uv_handle_t.self)
        guard wanted != 0 else {
            if watcher.keepArmed { uv_unref(handle) } else { releaseWatcher(watcher) }
            return
        }
        uv_ref(handle)
        guard wanted & ~watcher.events != 0 else { return }  // armed for all of it already
        armPoll(watcher, wanted)
    }

    private func wantedEvents(_ watcher: FDWatcher) -> Int32 {
        var events: Int32 = 0
        // A woken waiter still counts until its green thread ends the wait: it will most likely
        // wait again, and trimming now would cost two epoll_ctl calls.
        if watcher.reader != nil || watcher.readWaiter != nil { events |= Int32(UV_READABLE.rawValue) }
        if watcher.writer != nil || watcher.writeWaiter != nil { events |= Int32(UV_WRITABLE.rawValue) }
        return events
    }

    /// Registers the calling green thread's wait for `readiness` on `fd` and arms the poll handle.
    @inline(never)
    func beginWait(for readiness: IOReadiness, on fd: Int32) throws -> FDWatcher {
        assertOnHubThread("Hub.wait(for:on:)")
        let watcher = try watcher(for: fd)
        let busy =
            readiness == .readable
            ? watcher.reader != nil || watcher.readWaiter?.isWaiting == true
            : watcher.writer != nil || watcher.writeWaiter?.isWaiting == true
        guard !busy else {
            if wantedEvents(watcher) == 0 && !watcher.keepArmed { releaseWatcher(watcher) }
            throw WatchError.alreadyWaiting(fd: fd)
        }
        // Armed before parking: the waiter is stored by park's enrolment, synchronously after.
        let handle = UnsafeMutableRawPointer(watcher.poll).assumingMemoryBound(to: uv_handle_t.self)
        uv_ref(handle)
        let bit = Int32(readiness == .readable ? UV_READABLE.rawValue : UV_WRITABLE.rawValue)
        if watcher.events & bit == 0 { armPoll(watcher, watcher.events | bit) }
        return watcher
    }

    /// Forgets a finished wait and trims the poll handle. Only the slot still holding this wait's
    /// own waiter is cleared: a newer wait may already have taken it (this one timed out or was
    /// cancelled, and another green thread started waiting before this one ran again).
    @inline(never)
    func endWait(_ watcher: FDWatcher, _ readiness: IOReadiness, _ waiter: Waiter<Void>?) {
        if readiness == .readable {
            if watcher.readWaiter === waiter { watcher.readWaiter = nil }
        } else if watcher.writeWaiter === waiter {
            watcher.writeWaiter = nil
        }
        if watchers[watcher.fd] === watcher { updatePoll(watcher) }
    }

    private func armPoll(_ watcher: FDWatcher, _ events: Int32) {
        watcher.events = events
        if events == 0 {
            uv_poll_stop(watcher.poll)
            return
        }
        uv_poll_start(watcher.poll, events) { poll, status, events in
            let hub = Hub.from(poll!.pointee.data)
            hub.pollFired(fd: poll!.pointee.io_watcher.fd, status: status, events: events)
        }
    }

    /// Stops and frees the descriptor's poll handle (before the descriptor is closed).
    private func releaseWatcher(_ watcher: FDWatcher) {
        uv_poll_stop(watcher.poll)
        watchers[watcher.fd] = nil
        watcher.poll.withMemoryRebound(to: uv_handle_t.self, capacity: 1) { handle in
            uv_close(handle) { handle in handle!.withMemoryRebound(to: uv_poll_t.self, capacity: 1) { $0.deallocate() }
            }
        }
    }

    private func pollFired(fd: Int32, status: Int32, events: Int32) {
        guard let watcher = watchers[fd] else { return }
        if status < 0 {
            // libuv stopped the handle. Wake both sides (the next system call reports the error)
            // and re-arm for whoever still watches.
            watcher.events = 0
            watcher.wake(readable: true, writable: true)
            watcher.reader?.fireRepeating()
            watcher.writer?.fireRepeating()
            if watchers[fd] === watcher { updatePoll(watcher) }
            return
        }
        let readable = events & Int32(UV_READABLE.rawValue) != 0
        let writable = events & Int32(UV_WRITABLE.rawValue) != 0
        watcher.wake(readable: readable, writable: writable)
        if readable { watcher.reader?.fireRepeating() }
        if writable { watcher.writer?.fireRepeating() }
        // Level-triggered: interest nobody has any more would fire again and again.
        if watchers[fd] === watcher, case let wanted = wantedEvents(watcher), wanted != watcher.events {
            armPoll(watcher, wanted)
        }
    }

    /// Tells the hub that `fd` is about to be closed (Eventlet's `notify_close`): green threads
    /// waiting on it with ``wait(for:on:timeout:)`` throw ``WatchError/descriptorClosed(fd:)``,
    /// other readers and writers are removed, and the poll handle is released, so that the number
    /// can be reused safely. Call it before `close(fd)`.
    public func notifyClose(_ fd: Int32) {
        assertOnHubThread("Hub.notifyClose")
        guard let watcher = watchers[fd] else { return }
        closingDescriptors.insert(fd)
        defer { closingDescriptors.remove(fd) }
        watcher.wake(readable: true, writable: true, error: WatchError.descriptorClosed(fd: fd))
        watcher.reader?.fireRepeating()
        watcher.writer?.fireRepeating()
        watcher.reader?.cancel()
        watcher.writer?.cancel()
        if watchers[fd] === watcher { releaseWatcher(watcher) }
    }
}
