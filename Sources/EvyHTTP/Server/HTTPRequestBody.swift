import Evy

/// A request body, read as it arrives (WSGI's `wsgi.input`): the handler is called once the
/// headers are in, and each read pulls more bytes from the connection, so an upload is never held
/// in memory unless the handler asks for all of it.
///
/// ```swift
/// let server = HTTPServer { request, _ in
///     var size = 0
///     for try await piece in request.body { size += piece.count }   // streamed
///     return .text("\(size) bytes\n")
/// }
/// // or, for a small body: let bytes = try await request.body.readAll()
/// ```
/// A body larger than the server's `maxBodyBytes`, malformed chunked encoding, a client that stops
/// sending (the request timeout) or closes early make reads throw (`HTTPParseError` or
/// `TimeoutError`); if the handler lets that error escape, the server answers 413, 400 or 408.
/// A client that sent `Expect: 100-continue` gets its `100 Continue` at the first read.
/// Hub-confined: read it from the handler's green thread, before the response is returned.
public final class HTTPRequestBody: AsyncSequence, @unchecked Sendable {
    /// A piece of the body, as it arrived.
    public typealias Element = [UInt8]

    private var pieces: [[UInt8]] = []
    private var nextPiece = 0
    /// Whether every byte of the body has arrived (it may not all have been read yet).
    public private(set) var isComplete: Bool
    /// Body bytes received so far.
    public private(set) var bytesReceived = 0
    /// Why reading failed, once it has.
    private(set) var failure: (any Error)?
    /// Whether the rest was thrown away after the response (reads then throw).
    private var discarded = false
    /// Pulls more bytes from the connection; nil once the body cannot grow (parsed from a buffer).
    weak var source: HTTPBodySource?

    init(complete: Bool) { isComplete = complete }

    /// A body with no bytes, shared by every request that has none.
    static let empty = HTTPRequestBody(complete: true)

    /// The next piece of the body, or nil at its end.
    public func read() async throws -> [UInt8]? {
        if discarded { throw HTTPParseError.malformed("request body read after the response was sent") }
        while nextPiece == pieces.count {
            if let failure { throw failure }
            if isComplete { return nil }
            guard let source else { throw HTTPParseError.malformed("request body cut short") }
            do {
                try await source.receiveBody()
            } catch {
                // An error for a request further on leaves this body whole; else it is this one's.
                fail(error)
            }
        }
        let piece = pieces[nextPiece]
        pieces[nextPiece] = []
        nextPiece += 1
        if nextPiece == pieces.count {
            pieces.removeAll(keepingCapacity: true)
            nextPiece = 0
        }
        return piece
    }

    /// The rest of the body in one array (bounded by the server's `maxBodyBytes`).
    public func readAll() async throws -> [UInt8] {
        guard let first = try await read() else { return [] }
        var bytes = first
        while let piece = try await read() { bytes += piece }
        return bytes
    }

    /// Iterates over the body's pieces as they arrive.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let body: HTTPRequestBody
        /// The next piece, or nil at the end of the body (see ``HTTPRequestBody/read()``).
        public mutating func next() async throws -> [UInt8]? { try await body.read() }
    }

    /// An iterator over the body's pieces (one body is read once, by one iterator at a time).
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }

    // MARK: Filled by the parser and the server

    func append(_ bytes: UnsafeRawBufferPointer) {
        bytesReceived += bytes.count
        pieces.append(Array(bytes))
    }

    func complete() {
        if !isComplete { isComplete = true }  // never written on the shared empty body
    }

    func fail(_ error: any Error) {
        if failure == nil && !isComplete { failure = error }
    }

    /// Reads and drops what the handler left unread, so the connection can serve the next request.
    /// False if that failed (the connection must close).
    func discardRest() async -> Bool {
        guard !isComplete else { return true }
        do {
            while try await read() != nil {}
        } catch {
            return false
        }
        discarded = true
        return true
    }

    /// The bytes received and not yet read, without waiting (for the fuzzer and tests).
    var buffered: [UInt8] { Array(pieces[nextPiece...].joined()) }
}

/// Where a request body's bytes come from: the server's connection.
protocol HTTPBodySource: AnyObject {
    /// Reads from the peer and parses what arrives, which extends the body being read; throws if
    /// the body cannot be completed.
    func receiveBody() async throws
}
