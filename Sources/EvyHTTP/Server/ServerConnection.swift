import Evy

/// One client connection of an ``HTTPServer``: the stream, its parser, and the requests parsed
/// ahead of the one being answered. Both the server's loop (between requests) and a handler
/// reading its request body (during one) receive through it; never both at once, since the
/// handler runs in the connection's green thread.
final class ServerConnection: HTTPBodySource {
    let stream: any GreenStream
    let peer: SocketAddress
    let parser: RequestParser
    let requestTimeout: Duration
    /// Requests whose headers are in, in order.
    var ready: [HTTPRequest] = []
    /// Set while the request being answered waits for its `100 Continue`.
    var owesContinue = false
    /// Why the bytes received cannot be parsed further (answered once the requests before it are).
    private(set) var failure: HTTPParseError?

    init(stream: any GreenStream, peer: SocketAddress, parser: RequestParser, requestTimeout: Duration) {
        self.stream = stream
        self.peer = peer
        self.parser = parser
        self.requestTimeout = requestTimeout
    }

    /// Reads once from the peer and parses what came; false once the peer has closed. Throws the
    /// socket's error or the parser's (`HTTPParseError`).
    func receive(timeout: Duration) async throws -> Bool {
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
        owesContinue = false
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
