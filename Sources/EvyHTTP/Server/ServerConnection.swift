import Evy

/// One client connection of an ``HTTPServer``: the stream, its parser, the requests parsed ahead
/// of the one being answered, and where the connection is in its life (``State``). Both the
/// server's loop (between requests) and a handler reading its request body (during one) receive
/// through it; never both at once, since the handler runs in the connection's green thread.
final class ServerConnection: HTTPBodySource {
    /// Where the connection is: `idle` → `readingHead` (a request's first byte is in) → `responding`
    /// → `idle` again if it is kept alive; a pipelined request goes from `responding` straight to
    /// the next `responding`.
    enum State: Equatable {
        /// Between requests, waiting up to the idle timeout; a stopping server closes it.
        case idle
        /// Part of a request head is in: the rest must arrive by `deadline` (slowloris: 408).
        case readingHead(deadline: ContinuousClock.Instant)
        /// A request is being answered; `owesContinue` while the `100 Continue` it asked for is unsent.
        case responding(owesContinue: Bool)
    }

    let stream: any GreenStream
    let peer: SocketAddress
    let parser: RequestParser
    let requestTimeout: Duration
    /// Requests whose headers are in, in order.
    var ready: [HTTPRequest] = []
    private(set) var state = State.idle
    /// How many times the connection has waited for a request (the server's idle order uses it).
    var idleSpells = 0
    /// Whether the request being answered still waits for its `100 Continue`.
    var owesContinue: Bool { state == .responding(owesContinue: true) }
    /// Why the bytes received cannot be parsed further (answered once the requests before it are).
    private(set) var failure: HTTPParseError?

    init(stream: any GreenStream, peer: SocketAddress, parser: RequestParser, requestTimeout: Duration) {
        self.stream = stream
        self.peer = peer
        self.parser = parser
        self.requestTimeout = requestTimeout
    }

    /// Waits for (more of) the next request: up to `idleTimeout` if none of it has arrived, else
    /// until the deadline set by its first byte. False once the peer has closed. Throws as
    /// ``receive(timeout:)`` does, `TimeoutError` when the wait runs out.
    func receiveRequest(idleTimeout: Duration) async throws -> Bool {
        let timeout: Duration
        if parser.inMiddleOfRequest {
            let deadline: ContinuousClock.Instant
            if case .readingHead(let started) = state { deadline = started } else { deadline = .now + requestTimeout }
            state = .readingHead(deadline: deadline)
            timeout = max(.zero, deadline - .now)
        } else {
            state = .idle
            timeout = idleTimeout
        }
        return try await receive(timeout: timeout)
    }

    /// Starts answering `request`: it owes a `100 Continue` if it asked for one and its body is
    /// still to come.
    func beginResponse(to request: HTTPRequest) {
        state = .responding(
            owesContinue: !request.body.isComplete && request.version.minor >= 1
                && request.header("Expect")?.lowercased() == "100-continue")
    }

    /// Reads once from the peer and parses what came; false once the peer has closed. Throws the
    /// socket's error or the parser's (`HTTPParseError`).
    private func receive(timeout: Duration) async throws -> Bool {
        let chunk = try await stream.receive(maxLength: 16384, timeout: timeout)
        if chunk.isEmpty {
            do {
                try parser.finish()
            } catch let error as HTTPParseError {
                failure = error
                throw error
            }
            return false
        }
        defer {
            for request in parser.takeCompleted() {
                if !request.body.isComplete { request.body.source = self }
                ready.append(request)
            }
        }
        do {
            try chunk.withUnsafeBytes { try parser.feed($0) }
        } catch let error as HTTPParseError {
            failure = error
            throw error
        }
        return true
    }

    /// Sends the `100 Continue` the request being answered asked for, if not sent yet.
    func sendContinueIfOwed() async throws {
        guard owesContinue else { return }
        state = .responding(owesContinue: false)
        try await stream.sendAll(HTTPHeadWriter(status: 100).bytes, timeout: requestTimeout)
    }

    func receiveBody() async throws {
        try await sendContinueIfOwed()
        do {
            _ = try await receive(timeout: requestTimeout)
        } catch {
            throw parser.fail(error)
        }
    }
}
