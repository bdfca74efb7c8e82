import CHTTPParser

/// Feeds a response to Node's http_parser.
final class ResponseParser {
    private let http = NodeHTTPParser(HTTP_RESPONSE)
    private var parser: UnsafeMutablePointer<http_parser> { http.parser }
    let maxBodyBytes: Int
    let skipBody: Bool
    private(set) var headers = HTTPHeaders()
    private var fields = HeaderFieldCollector()
    private(set) var body: [UInt8] = []
    private(set) var isComplete = false
    private(set) var status = 0
    private(set) var keepAlive = false
    /// Whether the body ran to the connection's end (no length, not chunked).
    private(set) var endedWithConnection = false
    /// Whether bytes came after the response (a server that answers what was not asked: the
    /// connection cannot be trusted with another request).
    private(set) var trailingBytes = false
    /// The bytes after the response (after a 101, the first bytes of the new protocol).
    private(set) var leftover: [UInt8] = []
    /// Whether the response being read is an interim (1xx) one.
    private var interim = false
    private var failure: HTTPClientError?

    init(maxBodyBytes: Int, skipBody: Bool) {
        self.maxBodyBytes = maxBodyBytes
        self.skipBody = skipBody
        let settings = http.settings
        settings.pointee.on_header_field = { p, data, length in ResponseParser.from(p).headerField(data, length) }
        settings.pointee.on_header_value = { p, data, length in ResponseParser.from(p).headerValue(data, length) }
        settings.pointee.on_headers_complete = { p in ResponseParser.from(p).headersComplete() }
        settings.pointee.on_body = { p, data, length in ResponseParser.from(p).addBody(data, length) }
        settings.pointee.on_message_complete = { p in ResponseParser.from(p).messageComplete() }
    }

    private static func from(_ parser: UnsafeMutablePointer<http_parser>?) -> ResponseParser {
        NodeHTTPParser.owner(of: parser)
    }

    func feed(_ bytes: UnsafeRawBufferPointer) throws {
        let parsed = http.execute(bytes, for: self)
        try check()
        if parsed < bytes.count {
            trailingBytes = true
            leftover += bytes[parsed...]
        }
    }

    func finish() throws {
        _ = http.execute(nil, for: self)
        if isComplete && !endedWithConnection && http_body_is_final(parser) == 0 { endedWithConnection = true }
        try check()
    }

    private func check() throws {
        if let failure { throw failure }
        let code = evy_http_errno(parser)
        if code == HPE_INVALID_EOF_STATE.rawValue { throw HTTPClientError.incompleteResponse }
        if code != HPE_OK.rawValue && code != HPE_PAUSED.rawValue {
            throw HTTPClientError.malformedResponse(String(cString: http_errno_description(http_errno(code))))
        }
    }

    private func headerField(_ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        if let data { fields.addName(UnsafeRawBufferPointer(start: data, count: length)) }
        return 0
    }

    private func headerValue(_ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        if let data { fields.addValue(UnsafeRawBufferPointer(start: data, count: length)) }
        return 0
    }

    private func headersComplete() -> Int32 {
        headers = fields.take()
        status = Int(parser.pointee.status_code)
        if (100...199).contains(status) && status != 101 {
            interim = true
            return 1  // 100 Continue, 103 Early Hints: no body, and the final response follows
        }
        keepAlive = http_should_keep_alive(parser) != 0
        let flags = UInt32(parser.pointee.flags)
        let delimited = flags & F_CHUNKED.rawValue != 0 || parser.pointee.content_length != UInt64.max
        endedWithConnection = !delimited && !skipBody && status != 204 && status != 304 && status >= 200
        return skipBody || status == 204 || status == 304 ? 1 : 0  // 1: no body, whatever the headers say
    }

    private func addBody(_ data: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        guard let data else { return 0 }
        guard body.count + length <= maxBodyBytes else {
            failure = .bodyTooLarge(limit: maxBodyBytes)
            return 1
        }
        body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
        return 0
    }

    private func messageComplete() -> Int32 {
        if interim {  // forget it and read on
            interim = false
            headers = HTTPHeaders()
            status = 0
            return 0
        }
        isComplete = true
        http_parser_pause(parser, 1)  // what follows is not part of this response
        return 0
    }
}
