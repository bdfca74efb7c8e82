import CHTTPParser

/// Feeds bytes to Node's http_parser (`libhttp-parser`) and collects requests as soon as their
/// headers are in; their bodies fill as later bytes are fed. One per connection, reused for
/// pipelined and keep-alive requests.
final class RequestParser {
    private let http = NodeHTTPParser(HTTP_REQUEST)
    private var parser: UnsafeMutablePointer<http_parser> { http.parser }
    let maxHeaderBytes: Int
    let maxBodyBytes: Int

    // The request being read.
    private var target: [UInt8] = []
    private var fields = HeaderFieldCollector()
    private var body = HTTPRequestBody.empty
    private var headerBytes = 0
    private(set) var completed: [HTTPRequest] = []
    private var failure: HTTPParseError?
    /// Bytes after an upgrade request (`Connection: Upgrade`): they belong to the new protocol.
    private(set) var upgradeLeftover: [UInt8] = []
    /// Whether the last request asked to switch protocols; parsing stops there.
    var upgraded: Bool { evy_http_upgrade(parser) != 0 }

    init(maxHeaderBytes: Int, maxBodyBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        let settings = http.settings
        settings.pointee.on_message_begin = { parser in RequestParser.from(parser).beginMessage() }
        settings.pointee.on_url = { parser, data, length in RequestParser.from(parser).addTarget(data, length) }
        settings.pointee.on_header_field = { parser, data, length in
            RequestParser.from(parser).addHeaderName(data, length)
        }
        settings.pointee.on_header_value = { parser, data, length in
            RequestParser.from(parser).addHeaderValue(data, length)
        }
        settings.pointee.on_headers_complete = { parser in RequestParser.from(parser).completeHeaders() }
        settings.pointee.on_body = { parser, data, length in RequestParser.from(parser).addBody(data, length) }
        settings.pointee.on_message_complete = { parser in RequestParser.from(parser).completeMessage() }
    }

    private static func from(_ parser: UnsafeMutablePointer<http_parser>?) -> RequestParser {
        NodeHTTPParser.owner(of: parser)
    }

    /// Parses `bytes`; requests whose headers are in accumulate in ``completed`` (take them with
    /// ``takeCompleted()``). Throws on malformed input or a limit, after failing the body being
    /// read; the connection is then done.
    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        let parsed = http.execute(bytes, for: self)
        try checkErrors()
        if parsed != bytes.count {
            guard evy_http_upgrade(parser) != 0 else { throw fail(HTTPParseError.malformed("trailing bytes")) }
            upgradeLeftover += Array(bytes[parsed...])
        }
    }

    /// Tells the parser the peer closed the connection.
    func finish() throws {
        _ = http.execute(nil, for: self)
        try checkErrors()
        if !body.isComplete { throw fail(HTTPParseError.malformed("connection closed before the request body ended")) }
    }

    private func checkErrors() throws {
        if let failure { throw fail(failure) }
        let code = evy_http_errno(parser)
        if code != HPE_OK.rawValue {
            throw fail(HTTPParseError.malformed(String(cString: http_errno_description(http_errno(code)))))
        }
    }

    /// Records `error` as the reason the body being read cannot complete, and returns it.
    func fail(_ error: any Error) -> any Error {
        body.fail(error)
        return error
    }

    func takeCompleted() -> [HTTPRequest] {
        let requests = completed
        completed = []
        return requests
    }

    /// Whether bytes of an unfinished request have been seen (from its method's first letter on).
    private(set) var inMiddleOfRequest = false

    private func beginMessage() -> Int32 {
        target = []
        fields.reset()
        body = .empty
        headerBytes = 0
        inMiddleOfRequest = true
        return 0
    }

    private func count(_ length: Int) -> Bool {
        headerBytes += length
        if headerBytes > maxHeaderBytes {
            failure = .headersTooLarge(limit: maxHeaderBytes)
            return false
        }
        return true
    }

    private func addTarget(_ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        guard count(length), let data else { return failure == nil ? 0 : 1 }
        target.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
        return 0
    }

    private func addHeaderName(_ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        guard count(length), let data else { return failure == nil ? 0 : 1 }
        fields.addName(UnsafeRawBufferPointer(start: data, count: length))
        return 0
    }

    private func addHeaderValue(_ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        guard count(length), let data else { return failure == nil ? 0 : 1 }
        fields.addValue(UnsafeRawBufferPointer(start: data, count: length))
        return 0
    }

    private func completeHeaders() -> Int32 {
        let flags = evy_http_flags(parser)
        let chunked = flags & F_CHUNKED.rawValue != 0
        let length = flags & F_CONTENTLENGTH.rawValue != 0 ? parser.pointee.content_length : 0
        if !chunked && length > UInt64(maxBodyBytes) {
            failure = .bodyTooLarge(limit: maxBodyBytes)
            return -1  // an error: 1 would mean "no body" and the body would be parsed as requests
        }
        body = chunked || length > 0 ? HTTPRequestBody(complete: false) : .empty
        let method = String(cString: http_method_str(http_method(evy_http_method(parser))))
        completed.append(
            HTTPRequest(
                method: method,
                target: String(decoding: target, as: UTF8.self),
                version: (Int(parser.pointee.http_major), Int(parser.pointee.http_minor)),
                headers: fields.take(),
                body: body,
                keepAlive: http_should_keep_alive(parser) != 0,
                isUpgrade: evy_http_upgrade(parser) != 0))
        return 0
    }

    private func addBody(_ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        guard let data else { return 0 }
        guard body.bytesReceived + length <= maxBodyBytes else {
            failure = .bodyTooLarge(limit: maxBodyBytes)
            return 1
        }
        body.append(UnsafeRawBufferPointer(start: data, count: length))
        return 0
    }

    private func completeMessage() -> Int32 {
        body.complete()
        headerBytes = 0
        inMiddleOfRequest = false
        return 0
    }
}
