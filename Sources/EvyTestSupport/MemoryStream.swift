import Evy
import Glibc

/// One end of an in-memory, hub-confined byte stream pair: what one end sends, the other
/// receives, in order, with no socket involved (like SwiftNIO's `EmbeddedChannel`, for protocol
/// tests). Behaves as a connected socket does:
/// - `receive` waits (with its timeout, throwing `TimeoutError`) until bytes arrive, returns at
///   most `maxLength` of them, and returns empty once the peer closed or shut down its sending side.
/// - `sendAll` never waits (the pipe is unbounded); it throws `SocketError.closed` once this end is
///   closed or shut for writing, and `SocketError.system("send", EPIPE)` once the peer closed.
/// - `close` wakes a green thread waiting in `receive` on this end with `SocketError.closed`.
public final class MemoryStream: GreenStream, @unchecked Sendable {
    /// The bytes going one way, and who waits for them.
    private final class Pipe {
        var bytes: [UInt8] = []
        var start = 0
        /// The writer shut down or closed: once drained, reads return empty.
        var writerDone = false
        /// The reader closed: writes fail.
        var readerGone = false
        /// Set while a reader has something to look at (bytes, an end, a close).
        let changed = Flag()
    }

    private let inbound: Pipe
    private let outbound: Pipe
    private var closed = false
    /// Every byte this end has sent, in order (what a test asserts on).
    public private(set) var sent: [UInt8] = []

    private init(inbound: Pipe, outbound: Pipe) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Two connected ends.
    public static func pair() -> (MemoryStream, MemoryStream) {
        let there = Pipe()
        let back = Pipe()
        return (MemoryStream(inbound: back, outbound: there), MemoryStream(inbound: there, outbound: back))
    }

    public func receive(maxLength: Int, timeout: Duration?) async throws -> [UInt8] {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            if closed { throw SocketError.closed }
            if inbound.start < inbound.bytes.count {
                let end = min(inbound.bytes.count, inbound.start + max(1, maxLength))
                let chunk = Array(inbound.bytes[inbound.start..<end])
                inbound.start = end
                if end == inbound.bytes.count {
                    inbound.bytes.removeAll(keepingCapacity: true)
                    inbound.start = 0
                    if !inbound.writerDone { inbound.changed.clear() }
                }
                return chunk
            }
            if inbound.writerDone { return [] }
            inbound.changed.clear()
            let left = deadline.map { max(.zero, $0 - .now) }
            guard try await inbound.changed.wait(timeout: left) else { throw TimeoutError(duration: timeout ?? .zero) }
        }
    }

    public func sendAll(_ bytes: [UInt8], timeout: Duration?) async throws {
        if closed || outbound.writerDone { throw SocketError.closed }
        if outbound.readerGone { throw SocketError.system("send", EPIPE) }
        sent += bytes
        outbound.bytes += bytes
        outbound.changed.set()
    }

    public func shutdownWrite() {
        outbound.writerDone = true
        outbound.changed.set()
    }

    public func close() {
        guard !closed else { return }
        closed = true
        shutdownWrite()
        inbound.readerGone = true
        inbound.changed.set()  // wakes our own waiting reader, which sees `closed`
    }
}

/// A peer that plays back a script of bytes, `piece` bytes per receive (the way a network splits
/// them), then reads as closed; what is sent to it is kept in ``sent``. For fuzzers and codec
/// tests that need a `GreenStream` but no timing. Hub-confined.
public final class ScriptedStream: GreenStream, @unchecked Sendable {
    private var input: ArraySlice<UInt8>
    private let piece: Int
    /// Every byte sent to this peer, in order.
    public private(set) var sent: [UInt8] = []

    /// A peer that will deliver `input` in pieces of `piece` bytes (at least 1).
    public init(_ input: [UInt8], piece: Int) {
        self.input = input[...]
        self.piece = max(1, piece)
    }

    public func receive(maxLength: Int, timeout: Duration?) async throws -> [UInt8] {
        let chunk = input.prefix(min(maxLength, piece))
        input = input.dropFirst(chunk.count)
        return Array(chunk)
    }

    public func sendAll(_ bytes: [UInt8], timeout: Duration?) async throws { sent += bytes }

    public func close() {}
}
