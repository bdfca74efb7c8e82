/// Where a header's fields go: ``HeaderSize`` counts them so that ``HeaderBytes`` can reserve the
/// exact size once, then writes them; both walk the same field list, ``HeaderSink/fields(of:)``.
protocol HeaderSink {
    /// One integer, big-endian.
    mutating func put<T: FixedWidthInteger>(_ value: T)
    /// A string's UTF-8 bytes, without their length.
    mutating func putUTF8(_ string: String)
}

/// Counts the bytes of a header.
struct HeaderSize: HeaderSink {
    var count = 0
    mutating func put<T: FixedWidthInteger>(_ value: T) { count += MemoryLayout<T>.size }
    mutating func putUTF8(_ string: String) { count += string.utf8.count }
}

/// Writes a header into one array.
struct HeaderBytes: HeaderSink {
    var bytes: [UInt8]
    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }
    mutating func put<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func putUTF8(_ string: String) { bytes.append(contentsOf: string.utf8) }
}

// MARK: Field encodings

extension HeaderSink {
    mutating func put(_ value: Bool) { put(UInt8(value ? 1 : 0)) }
    mutating func put<E: RawRepresentable>(_ value: E) where E.RawValue: FixedWidthInteger { put(value.rawValue) }
    /// Lengths and counts are u32; no header reaches 4 GiB (the decoder refuses over 64 KiB).
    mutating func putCount(_ count: Int) { put(UInt32(count)) }
    mutating func put(_ string: String) {
        putCount(string.utf8.count)
        putUTF8(string)
    }
    mutating func put(_ lease: Lease) {
        put(lease.job)
        put(lease.attempt)
    }
    mutating func put(_ strings: [String]) {
        putCount(strings.count)
        for string in strings { put(string) }
    }
    mutating func put(_ jobs: [UInt64]) {
        putCount(jobs.count)
        for job in jobs { put(job) }
    }
    mutating func put(_ leases: [Lease]) {
        putCount(leases.count)
        for lease in leases { put(lease) }
    }
    mutating func put(_ completions: [Completion]) {
        putCount(completions.count)
        for completion in completions {
            put(completion.lease)
            put(completion.status)
        }
    }
    mutating func put(_ options: JobOptions) {
        put(options.priority)
        put(options.notBefore)
        put(options.maxRetries)
        put(options.timeoutMilliseconds)
        put(options.dedupKey)
        put(options.concurrencyKey)
        put(options.concurrencyLimit)
        put(options.spacingMilliseconds)
    }
    mutating func put(_ ready: Ready) {
        put(ready.role)
        put(ready.name)
        put(ready.host)
        put(ready.pid)
        put(ready.slots)
        put(ready.heartbeatMilliseconds)
        put(ready.handlers)
        put(ready.held)
    }

    // MARK: Messages

    /// The header of `message`: its fields in the order of the case, payloads left out.
    mutating func fields(of message: Message) {
        switch message {
        case .submit(let request, let handler, let options, _):
            put(request)
            put(handler)
            put(options)
        case .submitted(let request, let job, let duplicate):
            put(request)
            put(job)
            put(duplicate)
        case .cancel(let request, let job):
            put(request)
            put(job)
        case .cancelled(let request, let job, let outcome):
            put(request)
            put(job)
            put(outcome)
        case .query(let request, let topic, let after, let limit):
            put(request)
            put(topic)
            put(after)
            put(limit)
        case .answer(let request, _):
            put(request)
        case .deadLetters(let request, let action, let job):
            put(request)
            put(action)
            put(job)
        case .ready(let ready):
            put(ready)
        case .welcome(let heartbeatMilliseconds, let liveness, let leaseKey):
            put(heartbeatMilliseconds)
            put(liveness)
            precondition(leaseKey.isEmpty || leaseKey.count == 16, "a lease key is 16 bytes")
            for byte in leaseKey { put(byte) }  // optional: 16 bytes, or absent
        case .job(let lease, let handler, let timeoutMilliseconds, _, let token):
            put(lease)
            put(handler)
            put(timeoutMilliseconds)
            if token != 0 { put(token) }  // optional: absent means none
        case .credit(let slots):
            put(slots)
        case .failed(let lease, let retryable, let error, let retryAfterMilliseconds):
            put(lease)
            put(retryable)
            put(error)
            if retryAfterMilliseconds != 0 { put(retryAfterMilliseconds) }  // optional: absent means 0
        case .abort(let job):
            put(job)
        case .giveBack(let lease):
            put(lease)
        case .drain, .heartbeat:
            break
        case .done(let completions):
            put(completions)
        case .doneAcknowledged(let jobs), .recorded(let jobs):
            put(jobs)
        case .record(let lease, let handler, let status, let error):
            put(lease)
            put(handler)
            put(status)
            put(error)
        case .result(let lease, let handler, let status, let durationMicroseconds, _, let token):
            put(lease)
            put(handler)
            put(status)
            put(durationMicroseconds)
            if token != 0 { put(token) }  // optional: absent means none
        case .progress(let lease, let done, let total, let message):
            put(lease)
            put(done)
            put(total)
            put(message)
        case .wait(let request, let jobs):
            put(request)
            put(jobs)
        case .outcome(let request, let job, let attempt, let status, let handler, _):
            put(request)
            put(job)
            put(attempt)
            put(status)
            put(handler)
        case .progressNote(let request, let job, let done, let total, let message):
            put(request)
            put(job)
            put(done)
            put(total)
            put(message)
        case .error(let request, let code, let reason):
            put(request)
            put(code)
            put(reason)
        }
    }
}
