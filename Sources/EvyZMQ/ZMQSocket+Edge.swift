import CZeroMQ
import Evy
import Glibc

// libzmq's `ZMQ_FD` is edge-triggered: it only says "the socket's events changed", and every
// zmq_send, zmq_recv and read of `ZMQ_EVENTS` may consume that edge. The rule that keeps green
// threads from being stranded: whoever may have consumed the edge reads `ZMQ_EVENTS` and wakes the
// green threads (and pollers) that can now proceed. This file is the only place that calls libzmq's
// send and receive or reads `ZMQ_EVENTS`, so the rule is kept here and nowhere else.
extension ZMQSocket {
    /// Reads `ZMQ_EVENTS` (consuming the descriptor's edge) and wakes the green threads that can now
    /// proceed, and the observing pollers unless `notifyingObservers` is false. If the events cannot
    /// be read (the context was terminated: `ETERM`), both directions are reported, so that every
    /// waiter tries its operation again and meets the error. Returns the events (0 once closed).
    @discardableResult
    func readEvents(notifyingObservers: Bool = true) -> Int32 {
        guard let handle else { return 0 }
        var events: Int32 = 0
        var length = MemoryLayout<Int32>.size
        if zmq_getsockopt(handle, ZMQ_EVENTS, &events, &length) != 0 { events = Int32(ZMQ_POLLIN | ZMQ_POLLOUT) }
        if events & Int32(ZMQ_POLLIN) != 0 { readable.set() }
        if events & Int32(ZMQ_POLLOUT) != 0 { writable.set() }
        if notifyingObservers && events != 0 { for flag in observers.values { flag.set() } }
        return events
    }

    /// After a libzmq call that may have consumed the edge. Nobody waiting or observing, nobody to
    /// wake: a later waiter reads `ZMQ_EVENTS` itself before it parks (which keeps a socket that
    /// nobody waits on as fast as a plain libzmq call). Otherwise one read of `ZMQ_EVENTS` is
    /// queued on the hub, after the work already queued: every call of this turn (the frames of a
    /// message, the messages an outbox sends back to back) shares it, instead of each paying a
    /// `poll` inside libzmq. The green threads it wakes could not have run before it anyway.
    @inline(__always)
    private func passEdgeOn() {
        guard hasInterest, !edgeCheckQueued else { return }
        edgeCheckQueued = true
        hub.callSoon { [self] in
            edgeCheckQueued = false
            readEvents()
        }
    }

    /// Whether some green thread waits on the socket or a poller observes it.
    private var hasInterest: Bool { waiters > 0 || !observers.isEmpty }

    /// The socket's `ZMQ_EVENTS` now (`ZMQ_POLLIN`, `ZMQ_POLLOUT`), as a poller reads them: green
    /// threads waiting on the socket are woken if they can proceed, pollers are not (they are the
    /// ones reading). Hub-confined; 0 once closed.
    public var currentEvents: Int32 { readEvents(notifyingObservers: false) }

    // MARK: The calls into libzmq's queues

    /// Sends `bytes` as one frame (a part of a multipart message if `more`) if that needs no
    /// waiting. False if it did not go through (or the socket is closed): `zmq_errno()` says why.
    @usableFromInline
    func sendNow(_ bytes: UnsafeRawBufferPointer, more: Bool) -> Bool {
        guard let handle, zmq_send(handle, bytes.baseAddress, bytes.count, ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)) >= 0
        else { return false }
        passEdgeOn()
        return true
    }

    /// Receives one frame into `buffer` if one is there: its size (larger than the buffer if it was
    /// truncated). Nil if none was there (or the socket is closed): `zmq_errno()` says why.
    @usableFromInline
    func receiveNow(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard let handle else { return nil }
        let size = zmq_recv(handle, buffer.baseAddress, buffer.count, ZMQ_DONTWAIT)
        guard size >= 0 else { return nil }
        passEdgeOn()
        return Int(size)
    }

    /// Receives one frame of any size if one is there. Nil if none was there (or the socket is
    /// closed): `zmq_errno()` says why.
    @usableFromInline
    func receiveNow() -> [UInt8]? {
        guard let handle else { return nil }
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        let size = zmq_msg_recv(&message, handle, ZMQ_DONTWAIT)
        guard size >= 0 else { return nil }
        passEdgeOn()
        return Array(UnsafeRawBufferPointer(start: zmq_msg_data(&message), count: Int(size)))
    }

    /// The error of the call that just failed (`zmq_errno()`), after passing the edge on: a failed
    /// call may have consumed it too.
    func failure(_ operation: String) -> ZMQError {
        let error = ZMQError(operation)
        passEdgeOn()
        return error
    }

    // MARK: Waiting

    /// Runs the non-blocking `attempt` (one of the calls above) until it succeeds, waiting on `flag`
    /// while it would block. Throws the call's ``ZMQError``, ``ZMQError/closed(_:)`` if the socket
    /// is closed, ``TimeoutError`` after `timeout`, `CancellationError` if the green thread is
    /// killed while it waits — unless not `interruptible` (the rest of a multipart message, which
    /// must be finished whatever happens to this green thread, or the next message would continue
    /// this one). Inlined into each operation: every async frame is an allocation in the task's
    /// allocator.
    @inline(__always)
    func retrying<T>(
        _ operation: String, _ flag: Flag, timeout: Duration?, interruptible: Bool = true, _ attempt: () -> T?
    ) async throws -> T {
        var deadline: ContinuousClock.Instant?
        while true {
            _ = try live(operation)
            flag.clear()
            if let result = attempt() { return result }
            guard zmq_errno() == EAGAIN else { throw failure(operation) }
            if deadline == nil, let timeout { deadline = hub.now.advanced(by: timeout) }
            if interruptible {
                try await waitFor(flag, deadline: deadline, limit: timeout)
            } else {
                _ = await Task(executorPreference: hub.taskExecutor) { [self] in
                    try? await waitFor(flag, deadline: nil, limit: nil)
                }.value
            }
        }
    }

    /// Parks until `flag` is set (by the descriptor's callback or another green thread's
    /// operation), watching the descriptor meanwhile.
    private func waitFor(_ flag: Flag, deadline: ContinuousClock.Instant?, limit: Duration?) async throws {
        waiters += 1
        defer {
            waiters -= 1
            try? updateWatch()
        }
        try updateWatch()
        // The edge may have fired before we watched: look once more before sleeping.
        readEvents()
        let remaining = deadline.map { hub.now.duration(to: $0) }
        if let remaining, remaining <= .zero { throw TimeoutError(duration: limit ?? .zero) }
        guard try await flag.wait(timeout: remaining) else { throw TimeoutError(duration: limit ?? .zero) }
    }

    /// Starts telling `flag` about changes (a ``ZMQPoller``), watching the descriptor meanwhile.
    func addObserver(_ flag: Flag, id: ObjectIdentifier) throws {
        observers[id] = flag
        try updateWatch()
    }

    /// Stops telling the poller `id` about changes.
    func removeObserver(id: ObjectIdentifier) {
        observers[id] = nil
        try? updateWatch()
    }

    /// Watches the descriptor while green threads wait or pollers observe, and only then.
    private func updateWatch() throws {
        if hasInterest && watch == nil && handle != nil {
            watch = try hub.addReader(fd) { [unowned self] in readEvents() }
        } else if !hasInterest, let watch {
            watch.cancel()
            self.watch = nil
        }
    }
}
