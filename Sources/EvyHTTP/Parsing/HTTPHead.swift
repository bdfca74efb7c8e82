/// Writes the head of an HTTP/1.1 message: its first line, its header fields and the empty line
/// that ends it, CRLF line ends. The one head encoder: the server's responses, the client's
/// requests and both sides of the WebSocket handshake are written with it. Values are written as
/// given; callers pass no line breaks in them.
struct HTTPHeadWriter {
    private var text: String

    /// A request head: `METHOD target HTTP/1.1`.
    init(method: String, target: String) { text = "\(method) \(target) HTTP/1.1\r\n" }

    /// A response head: `HTTP/1.1 status reason`.
    init(status: Int) { text = "HTTP/1.1 \(status) \(HTTPHeadWriter.reason(status))\r\n" }

    /// Adds one field.
    mutating func add(_ name: String, _ value: String) { text += "\(name): \(value)\r\n" }

    /// Adds `headers` in order, but for the fields named (lower case) in `skipping`.
    mutating func add(_ headers: HTTPHeaders, skipping: Set<String> = []) {
        for (name, value) in headers where skipping.isEmpty || !skipping.contains(name.lowercased()) {
            add(name, value)
        }
    }

    /// The head on the wire, with the empty line that ends it.
    var bytes: [UInt8] { Array((text + "\r\n").utf8) }

    /// The reason phrase of a status code (`Status` for the ones not listed).
    static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 413: "Content Too Large"
        case 426: "Upgrade Required"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// Gathers header fields from http_parser's callbacks, which hand names and values over in pieces
/// (a field may straddle two reads). The one head decoder's field half, shared by the request and
/// the response parser.
struct HeaderFieldCollector {
    private var fields: [(name: [UInt8], value: [UInt8])] = []
    private var readingValue = false

    /// A piece of a field's name: a new field if a value came before it.
    mutating func addName(_ piece: UnsafeRawBufferPointer) {
        if readingValue || fields.isEmpty {
            fields.append((Array(piece), []))
            readingValue = false
        } else {
            fields[fields.count - 1].name.append(contentsOf: piece)
        }
    }

    /// A piece of the current field's value (ignored before any name, which http_parser never does).
    mutating func addValue(_ piece: UnsafeRawBufferPointer) {
        guard !fields.isEmpty else { return }
        fields[fields.count - 1].value.append(contentsOf: piece)
        readingValue = true
    }

    /// Forgets the fields gathered so far.
    mutating func reset() {
        fields.removeAll(keepingCapacity: true)
        readingValue = false
    }

    /// The fields gathered, decoded as UTF-8 (invalid bytes replaced); starts over.
    mutating func take() -> HTTPHeaders {
        let headers = HTTPHeaders(
            fields: fields.map {
                (String(decoding: $0.name, as: UTF8.self), String(decoding: $0.value, as: UTF8.self))
            })
        fields = []
        readingValue = false
        return headers
    }
}
