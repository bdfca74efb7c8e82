import CLibXML2
import Foundation

/// What a crawler needs from an HTML page, parsed with libxml2's forgiving HTML parser (malformed
/// markup is recovered from, never an error).
public struct HTMLPage: Sendable {
    /// The page's `<title>`, runs of ASCII whitespace collapsed to one space.
    public var title: String?
    /// Absolute http(s) links of `<a href>`, resolved against `<base href>` or the page's URL,
    /// fragments dropped, normalised (see ``normalizedURL(_:)``), in order, without duplicates.
    public var links: [String]

    /// Parses `html` fetched from `url`.
    public init(html: [UInt8], url: URL) {
        // libxml2's SAX interface: events for the elements wanted, no tree built.
        let collector = HTMLCollector()
        LibXML.ready
        html.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                // Made as htmlReadMemory makes it: an HTML parser context would take undeclared
                // non-ASCII bytes for Latin-1 where htmlReadMemory reads valid UTF-8 as UTF-8.
                guard let size = Int32(exactly: chars.count),
                    let context = xmlCreateMemoryParserCtxt(chars.baseAddress, size)
                else { return }
                defer { htmlFreeParserCtxt(context) }
                var handler = htmlSAXHandler()
                handler.initialized = 1
                handler.startElement = { context, name, attributes in
                    HTMLCollector.from(context).start(name, attributes)
                }
                handler.endElement = { context, name in
                    let collector = HTMLCollector.from(context)
                    if collector.inTitle, let name, xmlStrEqual(name, "title") != 0 { collector.inTitle = false }
                }
                handler.characters = { context, bytes, length in HTMLCollector.from(context).text(bytes, length) }
                handler.ignorableWhitespace = handler.characters
                context.pointee.sax.pointee = handler
                context.pointee._private = Unmanaged.passUnretained(collector).toOpaque()
                let options = Int32(
                    HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
                        | HTML_PARSE_NONET.rawValue)
                _ = htmlCtxtUseOptions(context, options)
                context.pointee.html = 1
                _ = htmlParseDocument(context)
                if let document = context.pointee.myDoc { xmlFreeDoc(document) }  // none without startDocument
            }
        }
        withExtendedLifetime(collector) {}
        title = collector.title.map(HTMLPage.collapsingWhitespace)
        let base = collector.base.flatMap { URL(string: $0, relativeTo: url)?.absoluteURL } ?? url
        var seen = Set<String>(minimumCapacity: collector.hrefEnds.count)
        let resolver = LinkResolver(base: base)
        links = collector.hrefBytes.withUnsafeBufferPointer { bytes in
            var start = 0
            return collector.hrefEnds.compactMap { end in
                defer { start = end }
                guard let link = resolver.resolve(UnsafeBufferPointer(rebasing: bytes[start..<end])),
                    seen.insert(link).inserted
                else { return nil }
                return link
            }
        }
    }

    /// `text` with runs of ASCII whitespace made one space, and none at either end.
    private static func collapsingWhitespace(_ text: [UInt8]) -> String {
        var collapsed: [UInt8] = []
        collapsed.reserveCapacity(text.count)
        var pendingSpace = false
        for byte in text {
            if byte == 32 || (byte >= 9 && byte <= 13) {
                pendingSpace = !collapsed.isEmpty
            } else {
                if pendingSpace { collapsed.append(32) }
                pendingSpace = false
                collapsed.append(byte)
            }
        }
        return String(decoding: collapsed, as: UTF8.self)
    }

    /// An http(s) URL in one canonical spelling: scheme and host lowercased, default port and
    /// fragment dropped, an empty path made `/`, dot segments removed. Nil for other schemes (`mailto:`, `javascript:`).
    public static func normalizedURL(_ url: URL) -> String? {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: true),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else { return nil }
        components.scheme = scheme
        components.host = host.lowercased()
        components.fragment = nil
        if components.port == (scheme == "http" ? 80 : 443) { components.port = nil }
        if components.path.isEmpty { components.path = "/" }
        // RFC 3986 §5.2.2 and browsers drop `.` and `..` segments of absolute links too.
        if components.percentEncodedPath.contains(".") {
            components.percentEncodedPath = String(
                decoding: LinkResolver.removingDotSegments(Array(components.percentEncodedPath.utf8)), as: UTF8.self)
        }
        return components.url?.absoluteString
    }
}

/// What the SAX events of one page leave behind: hrefs, the first `<base href>`, the first title.
private final class HTMLCollector {
    /// Every `<a href>` value, one after the other; each ends where `hrefEnds` says.
    var hrefBytes: [UInt8] = []
    var hrefEnds: [Int] = []
    var base: String?
    var title: [UInt8]?
    var inTitle = false

    /// The collector of the parser context a SAX callback gets (kept in its `_private`).
    static func from(_ context: UnsafeMutableRawPointer?) -> HTMLCollector {
        let parser = context!.assumingMemoryBound(to: xmlParserCtxt.self)
        return Unmanaged<HTMLCollector>.fromOpaque(parser.pointee._private).takeUnretainedValue()
    }

    /// An element starts (libxml2's HTML parser spells names in lowercase).
    func start(_ name: UnsafePointer<xmlChar>?, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?) {
        guard let name else { return }
        switch name[0] {  // most elements are none of these: one byte tells
        case UInt8(ascii: "a") where name[1] == 0:
            if let href = Self.href(attributes) {
                hrefBytes.append(contentsOf: href)
                hrefEnds.append(hrefBytes.count)
            }
        case UInt8(ascii: "t") where title == nil && xmlStrEqual(name, "title") != 0:
            title = []
            inTitle = true
        case UInt8(ascii: "b") where base == nil && xmlStrEqual(name, "base") != 0:
            base = Self.href(attributes).map { String(decoding: $0, as: UTF8.self) }
        default:
            break
        }
    }

    func text(_ bytes: UnsafePointer<xmlChar>?, _ length: Int32) {
        guard inTitle, let bytes else { return }
        title?.append(contentsOf: UnsafeBufferPointer(start: bytes, count: Int(length)))
    }

    /// The value of the `href` attribute in libxml2's name, value, name, value... nil array.
    private static func href(_ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?) -> UnsafeBufferPointer<
        UInt8
    >? {
        guard var pair = attributes else { return nil }
        while let key = pair[0] {
            if key[0] == UInt8(ascii: "h") && key[1] == UInt8(ascii: "r") && key[2] == UInt8(ascii: "e")
                && key[3] == UInt8(ascii: "f") && key[4] == 0
            {
                guard let value = pair[1] else { return UnsafeBufferPointer(start: nil, count: 0) }
                return UnsafeBufferPointer(start: value, count: Int(xmlStrlen(value)))
            }
            pair += 2
        }
        return nil
    }
}
