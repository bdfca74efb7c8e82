/// Reads a header's fields in order from its bytes, without copying them: only strings and
/// arrays allocate, and a count is checked against the bytes left before anything is reserved.
/// Valid only inside the `withUnsafeBytes` of the header frame.
struct HeaderReader {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private var remaining: Int { bytes.count - index }

    /// Throws unless every byte was read.
    func end() throws(ProtocolError) {
        if remaining > 0 { throw .malformed("\(remaining) bytes after the header's last field") }
    }

    mutating func int<T: FixedWidthInteger>(_: T.Type = T.self) throws(ProtocolError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .malformed("truncated header") }
        defer { index += size }
        return T(bigEndian: bytes.loadUnaligned(fromByteOffset: index, as: T.self))
    }

    mutating func bool() throws(ProtocolError) -> Bool {
        switch try int(UInt8.self) {
        case 0: return false
        case 1: return true
        case let other: throw .malformed("bad bool \(other)")
        }
    }

    mutating func raw<E: RawRepresentable>(_: E.Type = E.self) throws(ProtocolError) -> E
    where E.RawValue: FixedWidthInteger {
        let value = try int(E.RawValue.self)
        guard let result = E(rawValue: value) else { throw .malformed("bad \(E.self) value \(value)") }
        return result
    }

    /// A u32 count of items that take at least `minimumSize` bytes each.
    private mutating func count(minimumSize: Int) throws(ProtocolError) -> Int {
        let count = Int(try int(UInt32.self))
        guard count * minimumSize <= remaining else {
            throw .malformed("truncated header: count \(count) needs \(count * minimumSize) bytes, \(remaining) left")
        }
        return count
    }

    mutating func string() throws(ProtocolError) -> String {
        let length = try count(minimumSize: 1)
        let utf8 = UnsafeRawBufferPointer(rebasing: bytes[index..<index + length])
        index += length
        guard let string = String(validating: utf8.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
            throw .malformed("invalid UTF-8")
        }
        return string
    }

    /// FAILED's optional last field: absent is 0, and a 0 written out is refused (the encoding
    /// stays canonical: one message, one byte string).
    private mutating func optionalRetryAfter() throws(ProtocolError) -> UInt32 {
        guard remaining >= 4 else { return 0 }
        let milliseconds = try int(UInt32.self)
        if milliseconds == 0 { throw .malformed("retry-after-ms 0 is written by leaving the field out") }
        return milliseconds
    }

    /// JOB's and RESULT's optional last field, a lease token: absent is 0, a 0 written out is refused.
    private mutating func optionalToken() throws(ProtocolError) -> UInt64 {
        guard remaining >= 8 else { return 0 }
        let token = try int(UInt64.self)
        if token == 0 { throw .malformed("token 0 is written by leaving the field out") }
        return token
    }

    /// WELCOME's optional last field, the collector's lease key: 16 bytes, or absent.
    private mutating func optionalLeaseKey() throws(ProtocolError) -> [UInt8] {
        guard remaining >= 16 else { return [] }
        defer { index += 16 }
        return Array(bytes[index..<index + 16])
    }

    mutating func lease() throws(ProtocolError) -> Lease { try Lease(job: int(), attempt: int()) }

    /// `count` items read by `item`, after a count whose items take at least `minimumSize` bytes.
    private mutating func array<T>(minimumSize: Int, _ item: (inout HeaderReader) throws(ProtocolError) -> T)
        throws(ProtocolError) -> [T]
    {
        let count = try count(minimumSize: minimumSize)
        var items: [T] = []
        items.reserveCapacity(count)
        for _ in 0..<count { items.append(try item(&self)) }
        return items
    }

    mutating func strings() throws(ProtocolError) -> [String] {
        try array(minimumSize: 4) { r throws(ProtocolError) in try r.string() }
    }
    mutating func jobs() throws(ProtocolError) -> [UInt64] {
        try array(minimumSize: 8) { r throws(ProtocolError) in try r.int() }
    }
    mutating func leases() throws(ProtocolError) -> [Lease] {
        try array(minimumSize: 12) { r throws(ProtocolError) in try r.lease() }
    }
    mutating func completions() throws(ProtocolError) -> [Completion] {
        try array(minimumSize: 13) { r throws(ProtocolError) in try Completion(lease: r.lease(), status: r.raw()) }
    }

    mutating func options() throws(ProtocolError) -> JobOptions {
        var options = JobOptions()
        options.priority = try int()
        options.notBefore = try int()
        options.maxRetries = try int()
        options.timeoutMilliseconds = try int()
        options.dedupKey = try string()
        options.concurrencyKey = try string()
        options.concurrencyLimit = try int()
        options.spacingMilliseconds = try int()
        return options
    }

    mutating func ready() throws(ProtocolError) -> Ready {
        try Ready(
            role: raw(), name: string(), host: string(), pid: int(), slots: int(), heartbeatMilliseconds: int(),
            handlers: strings(), held: leases())
    }

    // MARK: Messages

    /// The message of `command` whose header these bytes are, with `payload` as its fourth frame.
    mutating func message(_ command: Command, payload: [UInt8]) throws(ProtocolError) -> Message {
        switch command {
        case .submit: try .submit(request: int(), handler: string(), options: options(), payload: payload)
        case .submitted: try .submitted(request: int(), job: int(), duplicate: bool())
        case .cancel: try .cancel(request: int(), job: int())
        case .cancelled: try .cancelled(request: int(), job: int(), outcome: raw())
        case .query: try .query(request: int(), topic: string(), after: int(), limit: int())
        case .answer: try .answer(request: int(), json: payload)
        case .deadLetters: try .deadLetters(request: int(), action: raw(), job: int())
        case .ready: try .ready(ready())
        case .welcome: try .welcome(heartbeatMilliseconds: int(), liveness: int(), leaseKey: optionalLeaseKey())
        case .job:
            try .job(lease(), handler: string(), timeoutMilliseconds: int(), payload: payload, token: optionalToken())
        case .credit: try .credit(slots: int())
        case .failed:
            try .failed(lease(), retryable: bool(), error: string(), retryAfterMilliseconds: optionalRetryAfter())
        case .abort: try .abort(job: int())
        case .giveBack: try .giveBack(lease())
        case .drain: .drain
        case .heartbeat: .heartbeat
        case .done: try .done(completions())
        case .doneAcknowledged: try .doneAcknowledged(jobs: jobs())
        case .record: try .record(lease(), handler: string(), status: raw(), error: string())
        case .result:
            try .result(
                lease(), handler: string(), status: raw(), durationMicroseconds: int(), payload: payload,
                token: optionalToken())
        case .recorded: try .recorded(jobs: jobs())
        case .progress: try .progress(lease(), done: int(), total: int(), message: string())
        case .wait: try .wait(request: int(), jobs: jobs())
        case .outcome:
            try .outcome(request: int(), job: int(), attempt: int(), status: raw(), handler: string(), payload: payload)
        case .progressNote: try .progressNote(request: int(), job: int(), done: int(), total: int(), message: string())
        case .error: try .error(request: int(), code: raw(), reason: string())
        }
    }
}
