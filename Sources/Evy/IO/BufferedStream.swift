/// A buffered stream over a ``GreenStream`` (Evy's `makefile`): read lines, exact lengths or up to
/// a delimiter, and write through a buffer flushed on demand.
///
/// ```swift
/// let stream = socket.buffered()
/// while let line = try await stream.readLine(maxLength: 1024) {
///     try await stream.write("echo: \(line)\n")
///     try await stream.flush()
/// }
/// ```
/// A read that ends early because the peer closed throws ``SocketError/unexpectedEOF``; a line or
/// block longer than its limit throws ``SocketError/tooLong(limit:)``. Data read past what a call
/// returns stays in the buffer for the next call. Hub-confined.
public final class BufferedStream: @unchecked Sendable {
    /// The underlying stream.
    public let base: any GreenStream
    private var input: [UInt8] = []
    private var inputStart = 0
    private var output: [UInt8] = []
    private var sawEOF = false
    /// How much one read from the stream asks for.
    public let chunkSize: Int

    /// Wraps `base`; `initial` is data already read from it (what a protocol upgrade left over).
    public init(_ base: any GreenStream, chunkSize: Int = 16384, initial: [UInt8] = []) {
        self.base = base
        self.chunkSize = chunkSize
        input = initial
    }

    /// Reads more from the stream into the buffer; false at end of file.
    private func fill(timeout: Duration?) async throws -> Bool {
        guard !sawEOF else { return false }
        if inputStart > 0 && inputStart >= input.count / 2 {
            input.removeSubrange(..<inputStart)
            inputStart = 0
        }
        let chunk = try await base.receive(maxLength: chunkSize, timeout: timeout)
        if chunk.isEmpty {
            sawEOF = true
            return false
        }
        input.append(contentsOf: chunk)
        return true
    }

    private func take(_ count: Int) -> [UInt8] {
        let bytes = Array(input[inputStart..<(inputStart + count)])
        inputStart += count
        if inputStart == input.count {
            input.removeAll(keepingCapacity: true)
            inputStart = 0
        }
        return bytes
    }

    /// Reads up to and including `delimiter`. Throws ``SocketError/tooLong(limit:)`` if
    /// `maxLength` bytes arrive without it, ``SocketError/unexpectedEOF`` if the peer closes first;
    /// returns nil if the stream was already at its end.
    /// The timeout bounds the whole call, however many reads it takes (a peer sending a byte at a
    /// time is cut off too).
    public func readUntil(_ delimiter: [UInt8], maxLength: Int = 65536, timeout: Duration? = nil) async throws
        -> [UInt8]?
    {
        precondition(!delimiter.isEmpty, "an empty delimiter")
        let deadline = timeout.map { ContinuousClock.now.advanced(by: $0) }
        // Where to resume searching, relative to inputStart (filling may move the buffer).
        var searched = 0
        while true {
            if let end = firstRange(of: delimiter, from: inputStart + searched) {
                let length = end - inputStart
                guard length <= maxLength else { throw SocketError.tooLong(limit: maxLength) }
                return take(length)
            }
            if input.count - inputStart > maxLength { throw SocketError.tooLong(limit: maxLength) }
            searched = Swift.max(0, input.count - inputStart - delimiter.count + 1)
            guard try await fill(timeout: try remaining(until: deadline, of: timeout)) else {
                if input.count == inputStart { return nil }
                throw SocketError.unexpectedEOF
            }
        }
    }

    /// The index just past the first occurrence of `delimiter` at or after `start`.
    private func firstRange(of delimiter: [UInt8], from start: Int) -> Int? {
        guard input.count - start >= delimiter.count else { return nil }
        let first = delimiter[0]
        var index = start
        while index <= input.count - delimiter.count {
            if input[index] == first && input[index..<(index + delimiter.count)].elementsEqual(delimiter) {
                return index + delimiter.count
            }
            index += 1
        }
        return nil
    }

    /// Reads a line and returns it without its `\n` (or `\r\n`), decoded as UTF-8 (invalid bytes
    /// are replaced). Nil at end of stream; throws ``SocketError/unexpectedEOF`` if the stream
    /// ends in the middle of a line and ``SocketError/tooLong(limit:)`` past `maxLength` bytes.
    public func readLine(maxLength: Int = 65536, timeout: Duration? = nil) async throws -> String? {
        guard var line = try await readUntil([10], maxLength: maxLength + 1, timeout: timeout) else { return nil }
        line.removeLast()
        if line.last == 13 { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// The time left before `deadline`; throws ``TimeoutError`` once it has passed.
    private func remaining(until deadline: ContinuousClock.Instant?, of timeout: Duration?) throws -> Duration? {
        guard let deadline else { return nil }
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { throw TimeoutError(duration: timeout ?? .zero) }
        return left
    }

    /// Reads exactly `count` bytes; throws ``SocketError/unexpectedEOF`` if the peer closes first.
    public func readExactly(_ count: Int, timeout: Duration? = nil) async throws -> [UInt8] {
        let deadline = timeout.map { ContinuousClock.now.advanced(by: $0) }
        while input.count - inputStart < count {
            guard try await fill(timeout: try remaining(until: deadline, of: timeout)) else {
                throw SocketError.unexpectedEOF
            }
        }
        return take(count)
    }

    /// Reads what is buffered, or waits for some data: at most `maxLength` bytes, empty at end of
    /// stream.
    public func read(maxLength: Int = 65536, timeout: Duration? = nil) async throws -> [UInt8] {
        if input.count == inputStart {
            guard try await fill(timeout: timeout) else { return [] }
        }
        return take(Swift.min(maxLength, input.count - inputStart))
    }

    /// Buffers `bytes` for sending; sent at the next ``flush(timeout:)`` (or at once, if the buffer
    /// grew past `chunkSize`).
    public func write(_ bytes: [UInt8], timeout: Duration? = nil) async throws {
        output.append(contentsOf: bytes)
        if output.count >= chunkSize { try await flush(timeout: timeout) }
    }

    /// Buffers `text` as UTF-8.
    public func write(_ text: String, timeout: Duration? = nil) async throws {
        try await write(Array(text.utf8), timeout: timeout)
    }

    /// Sends everything buffered. If sending fails (a timeout, a reset), what was buffered is
    /// dropped: how much reached the peer is unknown, so the connection should be abandoned.
    public func flush(timeout: Duration? = nil) async throws {
        guard !output.isEmpty else { return }
        let pending = output
        output.removeAll(keepingCapacity: true)
        try await base.sendAll(pending, timeout: timeout)
    }
}

extension GreenStream {
    /// A buffered stream over this one (Evy's `makefile`).
    public func buffered(chunkSize: Int = 16384) -> BufferedStream {
        BufferedStream(self, chunkSize: chunkSize)
    }
}
