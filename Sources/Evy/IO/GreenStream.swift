/// A byte stream green threads can read and write: a ``Socket``, a ``GreenPipe``, a TLS
/// connection. ``BufferedStream`` works over any of them.
public protocol GreenStream: AnyObject, Sendable {
    /// Receives at most `maxLength` bytes, waiting for some; empty at end of stream.
    func receive(maxLength: Int, timeout: Duration?) async throws -> [UInt8]
    /// Sends all of `bytes`.
    func sendAll(_ bytes: [UInt8], timeout: Duration?) async throws
    /// Closes the stream; green threads waiting on it are woken with an error. Idempotent.
    func close()
    /// Ends the sending side while receiving goes on: the peer reads end of stream (a half-close).
    /// Best effort; streams that cannot do it do nothing.
    func shutdownWrite()
}

extension GreenStream {
    /// Does nothing: the stream has no half-close.
    public func shutdownWrite() {}
}
