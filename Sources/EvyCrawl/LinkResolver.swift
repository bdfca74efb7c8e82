import Foundation

/// Resolves the links of one page against its base URL (RFC 3986 §5) into the spelling of
/// ``HTMLPage/normalizedURL(_:)``. The links crawlers meet nearly all are plain ASCII paths,
/// which are resolved here on their bytes; anything else (percent escapes, user info, other
/// schemes, `//host` references, unusual characters) goes through Foundation's `URL`. Either way
/// the answer is the same (a test holds them to it); resolving on the bytes is much faster.
struct LinkResolver {
    private let base: URL
    /// The base split (nil if it is not a plain http(s) URL: then Foundation resolves every link):
    /// `scheme://host[:port]` normalised, the path (never empty), the query (with its `?`, or empty).
    private let parts: (origin: [UInt8], path: [UInt8], query: [UInt8])?

    init(base: URL) {
        self.base = base
        let bytes = Array(base.absoluteString.utf8)
        if bytes.allSatisfy({ LinkResolver.plain[Int($0)] }),
            let split = LinkResolver.split(absolute: bytes.prefix { $0 != UInt8(ascii: "#") })
        {
            parts = (split.origin, LinkResolver.removingDotSegments(split.path), split.query)
        } else {
            parts = HTMLPage.normalizedURL(base).flatMap { LinkResolver.split(absolute: Array($0.utf8)[...]) }
        }
    }

    /// `href` (an attribute's bytes) resolved and normalised, or nil if it is not an http(s) link.
    func resolve(_ href: UnsafeBufferPointer<UInt8>) -> String? {
        if let parts {
            // The common case, a plain path relative to the site, without building arrays.
            if let link = LinkResolver.resolveSitePath(href, parts) { return link }
            if let fast = resolveFast(trimmed(Array(href)[...]), parts) { return fast.isEmpty ? nil : fast }
        }
        let text = String(decoding: href, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let resolved = URL(string: text, relativeTo: base)?.absoluteURL else { return nil }
        return HTMLPage.normalizedURL(resolved)
    }

    /// A plain link with no scheme, no dot segments and nothing unusual (`/p/2.html`, `2.html?x=1`,
    /// `#top`) resolved in one pass into one string; nil for anything else.
    private static func resolveSitePath(
        _ href: UnsafeBufferPointer<UInt8>, _ base: (origin: [UInt8], path: [UInt8], query: [UInt8])
    ) -> String? {
        var start = 0
        var end = href.count
        while start < end && isSpace(href[start]) { start += 1 }
        while end > start && isSpace(href[end - 1]) { end -= 1 }
        guard start < end, href[start] != UInt8(ascii: "."),
            !(href[start] == UInt8(ascii: "/") && end - start > 1
                && href[start + 1] == UInt8(ascii: "/"))
        else { return nil }
        // One pass: every byte plain, no `:` before the path ends, no dot segment; note `?` and `#`.
        var question = -1
        var fragment = end
        var segmentStart = true
        for index in start..<end {
            let byte = href[index]
            guard isPlain(byte) else { return nil }
            if index >= fragment { continue }
            switch byte {
            case UInt8(ascii: "#"): fragment = index
            case UInt8(ascii: "?"): if question < 0 { question = index }
            case UInt8(ascii: ":"): if question < 0 { return nil }
            case UInt8(ascii: "."): if question < 0 && segmentStart { return nil }
            default: break
            }
            segmentStart = byte == UInt8(ascii: "/")
        }
        let pathEnd = question < 0 ? fragment : question
        let absolutePath = href[start] == UInt8(ascii: "/")
        let directoryLength =
            absolutePath || pathEnd == start ? 0 : (base.path.lastIndex(of: UInt8(ascii: "/")) ?? 0) + 1
        let basePath = pathEnd == start ? base.path.count : 0
        let ownQuery = question < 0 ? 0 : fragment - question
        let baseQuery = pathEnd == start && ownQuery == 0 ? base.query.count : 0
        let length =
            base.origin.count + directoryLength + basePath + (fragment - start - ownQuery) + ownQuery + baseQuery
        return String(unsafeUninitializedCapacity: length) { output in
            var at = 0
            func copy(_ bytes: UnsafeBufferPointer<UInt8>) {
                guard !bytes.isEmpty else { return }
                _ = UnsafeMutableBufferPointer(rebasing: output[at...]).initialize(from: bytes)
                at += bytes.count
            }
            base.origin.withUnsafeBufferPointer { copy($0) }
            base.path.withUnsafeBufferPointer { path in
                copy(UnsafeBufferPointer(rebasing: path[0..<(directoryLength + basePath)]))
            }
            copy(UnsafeBufferPointer(rebasing: href[start..<fragment]))
            base.query.withUnsafeBufferPointer { query in copy(UnsafeBufferPointer(rebasing: query[0..<baseQuery])) }
            return at
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || (byte >= 9 && byte <= 13) }

    /// Letters, digits, `-._~/?=&#:`.
    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"),
            UInt8(ascii: "?"), UInt8(ascii: "="), UInt8(ascii: "&"), UInt8(ascii: "#"), UInt8(ascii: ":"):
            true
        default: false
        }
    }

    /// The resolved link; "" for a link that is certainly not http(s); nil to ask Foundation.
    private func resolveFast(
        _ href: ArraySlice<UInt8>, _ base: (origin: [UInt8], path: [UInt8], query: [UInt8])
    ) -> String? {
        guard !href.isEmpty, href.allSatisfy({ LinkResolver.plain[Int($0)] }) else { return nil }
        // The fragment goes; what is left is a reference with a path and maybe a query.
        let reference = href.prefix { $0 != UInt8(ascii: "#") }
        if reference.starts(with: "//".utf8) { return nil }
        let queryStart = reference.firstIndex(of: UInt8(ascii: "?")) ?? reference.endIndex
        let referencePath = reference[..<queryStart]
        if let colon = referencePath.firstIndex(of: UInt8(ascii: ":")),
            !referencePath[..<colon].contains(UInt8(ascii: "/"))
        {
            let scheme = reference[..<colon].map { $0 | 0x20 }
            guard scheme.elementsEqual("http".utf8) || scheme.elementsEqual("https".utf8) else { return "" }
            guard let parts = LinkResolver.split(absolute: reference) else { return nil }
            return String(
                decoding: parts.origin + LinkResolver.removingDotSegments(parts.path) + parts.query, as: UTF8.self)
        }
        let referenceQuery = reference[queryStart...]
        var link = base.origin
        link.reserveCapacity(base.origin.count + base.path.count + reference.count + base.query.count)
        if referencePath.isEmpty {
            link += base.path
            link += referenceQuery.isEmpty ? base.query[...] : referenceQuery
        } else if referencePath.first == UInt8(ascii: "/") {
            if LinkResolver.hasDotSegment(referencePath) {
                link += LinkResolver.removingDotSegments(Array(referencePath))
            } else {
                link += referencePath
            }
            link += referenceQuery
        } else {
            let directory = base.path[...(base.path.lastIndex(of: UInt8(ascii: "/")) ?? 0)]
            if LinkResolver.hasDotSegment(referencePath) || LinkResolver.hasDotSegment(directory) {
                link += LinkResolver.removingDotSegments(Array(directory) + referencePath)
            } else {
                link += directory
                link += referencePath
            }
            link += referenceQuery
        }
        return String(decoding: link, as: UTF8.self)
    }

    /// Splits `scheme://host[:port]/path?query` (no fragment) into a normalised origin, a path and
    /// a query; nil for anything unusual (user info, an odd port, an empty host).
    private static func split(absolute: ArraySlice<UInt8>) -> (origin: [UInt8], path: [UInt8], query: [UInt8])? {
        guard let colon = absolute.firstIndex(of: UInt8(ascii: ":")),
            absolute[colon...].starts(with: "://".utf8)
        else { return nil }
        let scheme = absolute[..<colon].map { $0 | 0x20 }  // lowercased (only letters pass the checks)
        let secure: Bool
        if scheme.elementsEqual("http".utf8) {
            secure = false
        } else if scheme.elementsEqual("https".utf8) {
            secure = true
        } else {
            return nil
        }
        let authorityStart = colon + 3
        let authorityEnd =
            absolute[authorityStart...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }
            ?? absolute.endIndex
        let authority = absolute[authorityStart..<authorityEnd]
        let portMark = authority.firstIndex(of: UInt8(ascii: ":"))
        let host = authority[..<(portMark ?? authority.endIndex)]
        guard !host.isEmpty, host.allSatisfy({ hostByte[Int($0)] }) else { return nil }
        var origin = scheme
        origin.reserveCapacity(scheme.count + 3 + authority.count)
        origin += "://".utf8
        origin += host.lazy.map { $0 | (isUpper($0) ? 0x20 : 0) }
        if let portMark {
            let digits = authority[(portMark + 1)...]
            guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            let port = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
            guard port <= 65535 else { return nil }
            if port != (secure ? 443 : 80) {
                origin += ":\(port)".utf8  // as Foundation spells it: no leading zeros
            }
        }
        let rest = absolute[authorityEnd...]
        let queryStart = rest.firstIndex(of: UInt8(ascii: "?")) ?? rest.endIndex
        var path = Array(rest[..<queryStart])
        if path.isEmpty { path = [UInt8(ascii: "/")] }
        return (origin, path, Array(rest[queryStart...]))
    }

    /// RFC 3986 §5.2.4 on a path that starts with `/`.
    static func removingDotSegments(_ path: [UInt8]) -> [UInt8] {
        guard hasDotSegment(path) else { return path }
        var output: [ArraySlice<UInt8>] = []
        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        for (index, segment) in segments.enumerated() {
            let last = index == segments.count - 1
            if segment.elementsEqual(".".utf8) {
                if last { output.append([]) }
            } else if segment.elementsEqual("..".utf8) {
                _ = output.popLast()
                if last { output.append([]) }
            } else {
                output.append(segment)
            }
        }
        return output.reduce(into: []) { $0 += [UInt8(ascii: "/")] + $1 }
    }

    /// Whether a segment of `path` is `.` or `..`.
    private static func hasDotSegment(_ path: some Collection<UInt8>) -> Bool {
        let (slash, dot) = (UInt8(ascii: "/"), UInt8(ascii: "."))
        var previous = slash
        var dots = 0
        for byte in path {
            if byte == slash {
                if dots == 1 || dots == 2 { return true }
                dots = 0
            } else if byte == dot && (previous == slash || dots > 0) {
                dots += 1
            } else {
                dots = 3  // a segment with something else in it
            }
            previous = byte
        }
        return dots == 1 || dots == 2
    }

    private func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        let isSpace = { (byte: UInt8) in byte == 32 || (byte >= 9 && byte <= 13) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return bytes[bytes.endIndex...] }
        let last = bytes.lastIndex(where: { !isSpace($0) })!
        return bytes[first...last]
    }

    private static func isUpper(_ byte: UInt8) -> Bool { byte >= 65 && byte <= 90 }

    /// Bytes a link may hold to be resolved here: letters, digits, `-._~/?=&#:`.
    private static let plain: [Bool] = (0..<256).map { byte in
        isAlphanumeric(byte) || "-._~/?=&#:".utf8.contains(UInt8(byte))
    }

    /// Bytes a host may hold to be resolved here: letters, digits, `-.`.
    private static let hostByte: [Bool] = (0..<256).map { byte in isAlphanumeric(byte) || byte == 45 || byte == 46 }

    private static func isAlphanumeric(_ byte: Int) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }
}
