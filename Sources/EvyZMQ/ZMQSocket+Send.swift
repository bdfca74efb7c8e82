import Evy

extension ZMQSocket {
    /// Sends the bytes `buffer` points at as one frame, without an intermediate array, waiting while
    /// the socket cannot take it (high-water mark, no peer) or another green thread's multipart send
    /// is in progress. The memory must stay valid until the call returns. Throws ``ZMQError``
    /// (``ZMQError/closed(_:)`` once closed), ``TimeoutError`` after `timeout` (default
    /// ``sendTimeout``), `CancellationError` if the green thread is killed while it waits.
    @inlinable
    public func send(_ buffer: UnsafeRawBufferPointer, timeout: Duration? = nil) async throws {
        // Inlined into the caller: a frame that goes through at once costs a plain function call,
        // not an async call (each async call allocates a frame in the task's allocator).
        if sendImmediately(buffer) { return }
        try await sendWaiting(timeout: timeout) { sendNow(buffer, more: false) }
    }

    /// Sends one frame, waiting and throwing like the buffer form above. With `more`, it is a
    /// part of a multipart message whose last part is sent without it; prefer
    /// ``sendMultipart(_:timeout:)``, which keeps the parts together.
    @inlinable
    public func send(_ frame: [UInt8], more: Bool = false, timeout: Duration? = nil) async throws {
        if !more, frame.withUnsafeBytes({ sendImmediately($0) }) { return }
        try await sendWaiting(timeout: timeout) { frame.withUnsafeBytes { sendNow($0, more: more) } }
    }

    /// Sends `text` as one UTF-8 frame, like ``send(_:more:timeout:)``.
    public func send(_ text: String, timeout: Duration? = nil) async throws {
        try await send(Array(text.utf8), timeout: timeout)
    }

    /// Sends a multipart message. It is atomic with respect to other green threads sending on this
    /// socket; once the first part is taken, the rest are sent even if the timeout passes or the
    /// green thread is killed. Throws like ``send(_:more:timeout:)``.
    public func sendMultipart(_ frames: [[UInt8]], timeout: Duration? = nil) async throws {
        precondition(!frames.isEmpty, "a message has at least one part")
        try await sendLock.withLock {
            for (index, frame) in frames.enumerated() {
                let more = index < frames.count - 1
                try await sendFrame(timeout: timeout, interruptible: index == 0) {
                    frame.withUnsafeBytes { sendNow($0, more: more) }
                }
            }
        }
    }

    /// Sends one frame if that needs no waiting; throws a ``ZMQError`` with
    /// ``ZMQError/wouldBlock`` otherwise.
    public func sendNowait(_ frame: [UInt8], more: Bool = false) throws {
        _ = try live("send")
        guard frame.withUnsafeBytes({ sendNow($0, more: more) }) else { throw failure("send") }
    }

    /// The fast path: sends a single frame if no multipart send is in progress and the socket takes
    /// it at once.
    @usableFromInline
    func sendImmediately(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !sendLock.isLocked && sendNow(bytes, more: false)
    }

    /// The slow path of a frame: `attempt` (a ``sendNow(_:more:)``) until it goes through, holding
    /// the send lock while it waits, so that a multipart send that starts meanwhile cannot have
    /// this frame land between its parts, and one in progress finishes first.
    @usableFromInline
    func sendWaiting(timeout: Duration?, _ attempt: () -> Bool) async throws {
        try await sendLock.withLock { try await sendFrame(timeout: timeout, interruptible: true, attempt) }
    }

    @inline(__always)
    private func sendFrame(timeout: Duration?, interruptible: Bool, _ attempt: () -> Bool) async throws {
        try await retrying("send", writable, timeout: timeout ?? sendTimeout, interruptible: interruptible) {
            attempt() ? () : nil
        }
    }
}
