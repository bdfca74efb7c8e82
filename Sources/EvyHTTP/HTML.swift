import CLibXML2
import Foundation

/// What a crawler needs from an HTML page, parsed with libxml2's forgiving HTML parser (malformed
/// markup is recovered from, never an error).
public struct HTMLPage: Sendable {
    /// The page's `<title>`, whitespace collapsed.
    public var title: String?
    /// Absolute http(s) links of `<a href>`, resolved against `<base href>` or the page's URL,
    /// fragments dropped, normalised (see ``normalizedURL(_:)``), in order, without duplicates.
    public var links: [String]

    /// Parses `html` fetched from `url`.
    public init(html: [UInt8], url: URL) {
        var title: String?
        var base = url
        var hrefs: [String] = []
        let options = Int32(HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
            | HTML_PARSE_NONET.rawValue)
        let document = html.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                htmlReadMemory(chars.baseAddress, Int32(chars.count), url.absoluteString, nil, options)
            }
        }
        if let document {
            defer { xmlFreeDoc(document) }
            func visit(_ node: xmlNodePtr?) {
                var node = node
                while let current = node {
                    if current.pointee.type == XML_ELEMENT_NODE, let rawName = current.pointee.name {
                        let name = String(cString: rawName).lowercased()
                        switch name {
                        case "title" where title == nil:
                            if let content = xmlNodeGetContent(current) {
                                title = String(cString: content).split(whereSeparator: \.isWhitespace).joined(separator: " ")
                                evy_xmlFree(content)
                            }
                        case "base":
                            if let href = attribute(current, "href"), let resolved = URL(string: href, relativeTo: url) {
                                base = resolved.absoluteURL
                            }
                        case "a":
                            if let href = attribute(current, "href") { hrefs.append(href) }
                        default:
                            break
                        }
                    }
                    visit(current.pointee.children)
                    node = current.pointee.next
                }
            }
            visit(xmlDocGetRootElement(document))
        }
        var seen: Set<String> = []
        links = hrefs.compactMap { href in
            let trimmed = href.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let resolved = URL(string: trimmed, relativeTo: base)?.absoluteURL,
                  let normalized = HTMLPage.normalizedURL(resolved), seen.insert(normalized).inserted
            else { return nil }
            return normalized
        }
        self.title = title
    }

    /// An http(s) URL in one canonical spelling: scheme and host lowercased, default port and
    /// fragment dropped, an empty path made `/`. Nil for other schemes (`mailto:`, `javascript:`).
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
        return components.url?.absoluteString
    }
}

private func attribute(_ node: xmlNodePtr, _ name: String) -> String? {
    guard let value = xmlGetProp(node, name) else { return nil }
    defer { evy_xmlFree(value) }
    return String(cString: value)
}
