import CZeroMQ
import Evy

extension ZMQSocket {
    /// Receives one frame, waiting for one. If it is part of a multipart message, ``hasMore`` is
    /// true and the next receive returns the next part; ``receiveMultipart(timeout:)`` takes the
    /// whole message at once. Throws ``ZMQError`` (``ZMQError/closed(_:)`` once closed, also for
    /// green threads waiting when it closes), ``TimeoutError`` after `timeout` (default
    /// ``receiveTimeout``), `CancellationError` if the green thread is killed while it waits.
    @inlinable
    public func receive(timeout: Duration? = nil) async throws -> [UInt8] {
        // Inlined into the caller: a frame that is already there costs a plain function call, not
        // an async call (each async call allocates a frame in the task's allocator).
        if let frame = receiveNow() { return frame }
        return try await receiveWaiting(timeout: timeout)
    }

    /// Receives one frame into `buffer` without allocating (the hot-path form); returns the frame's
    /// size, which is larger than the buffer if the frame was truncated. The memory must stay valid
    /// until the call returns. Throws like ``receive(timeout:)``.
    @inlinable
    public func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration? = nil) async throws -> Int {
        if let size = receiveNow(into: buffer) { return size }
        return try await receiveWaiting(into: buffer, timeout: timeout)
    }

    /// Receives one frame and decodes it as UTF-8, like ``receive(timeout:)``.
    public func receiveString(timeout: Duration? = nil) async throws -> String {
        String(decoding: try await receive(timeout: timeout), as: UTF8.self)
    }

    /// Receives a whole multipart message. It never yields between parts (libzmq delivers a
    /// message's parts together), so it is atomic with respect to other green threads. Throws like
    /// ``receive(timeout:)``.
    public func receiveMultipart(timeout: Duration? = nil) async throws -> [[UInt8]] {
        var frames = [try await receive(timeout: timeout)]
        while hasMore {
            guard let frame = receiveNow() else { throw failure("recv") }
            frames.append(frame)
        }
        return frames
    }

    /// Receives one frame if one is there; throws a ``ZMQError`` with ``ZMQError/wouldBlock``
    /// otherwise.
    public func receiveNowait() throws -> [UInt8] {
        _ = try live("recv")
        guard let frame = receiveNow() else { throw failure("recv") }
        return frame
    }

    /// Whether the frame last received has more parts after it (`ZMQ_RCVMORE`; false once closed).
    /// Read without the typed ``Option`` (whose closures may allocate): it is read for every part.
    public var hasMore: Bool { ((try? intOption(ZMQ_RCVMORE)) ?? 0) != 0 }

    /// The slow path of ``receive(timeout:)``.
    @usableFromInline
    func receiveWaiting(timeout: Duration?) async throws -> [UInt8] {
        try await retrying("recv", readable, timeout: timeout ?? receiveTimeout) { receiveNow() }
    }

    /// The slow path of ``receive(into:timeout:)``.
    @usableFromInline
    func receiveWaiting(into buffer: UnsafeMutableRawBufferPointer, timeout: Duration?) async throws -> Int {
        try await retrying("recv", readable, timeout: timeout ?? receiveTimeout) { receiveNow(into: buffer) }
    }
}
