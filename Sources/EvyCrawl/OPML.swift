import CLibXML2
import Foundation

/// A list of feeds in OPML (the format feed readers import and export): each `<outline>` with an
/// `xmlUrl`, however deeply nested in folders, in document order.
///
/// ```swift
/// let list = try OPML(data: Array(try Data(contentsOf: file)))
/// for feed in list.feeds { print(feed.title ?? "", feed.url) }
/// print(OPML.document(title: "My feeds", feeds: list.feeds))
/// ```
public struct OPML: Sendable, Equatable {
    /// One subscribed feed.
    public struct Outline: Sendable, Equatable {
        /// The feed's URL (`xmlUrl`).
        public var url: String
        /// Its title (`title`, else `text`).
        public var title: String?
        /// Its web page (`htmlUrl`).
        public var homePage: String?

        /// An outline from known values.
        public init(url: String, title: String? = nil, homePage: String? = nil) {
            self.url = url
            self.title = title
            self.homePage = homePage
        }
    }

    /// Why a document is not an OPML list.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// What was wrong.
        public var description: String
    }

    /// The head's title.
    public var title: String?
    /// The feeds, in document order (folders flattened; outlines without `xmlUrl` skipped).
    public var feeds: [Outline]

    /// Parses `data`; recovers from broken markup as far as it goes. Throws ``Failure`` when the
    /// document is not OPML at all (no `<opml>` root).
    public init(data: [UInt8]) throws(Failure) {
        LibXML.ready
        let options = Int32(
            XML_PARSE_RECOVER.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
                | XML_PARSE_NONET.rawValue)
        let document = data.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                Int32(exactly: chars.count).flatMap { xmlReadMemory(chars.baseAddress, $0, nil, nil, options) }
            }
        }
        guard let document else { throw Failure(description: "not an XML document") }
        defer { xmlFreeDoc(document) }
        guard let root = xmlDocGetRootElement(document), name(root) == "opml" else {
            throw Failure(description: "not OPML: no <opml> root element")
        }
        let head = children(root).first { name($0) == "head" }
        title = head.flatMap { text(of: $0, "title") }
        feeds = []
        var pending = children(root).filter { name($0) == "body" }.flatMap(children).reversed() as [xmlNodePtr]
        while let node = pending.popLast() {
            guard name(node) == "outline" else { continue }
            if let url = attribute(node, "xmlUrl")?.trimmingCharacters(in: .whitespaces), !url.isEmpty {
                feeds.append(
                    Outline(
                        url: url, title: attribute(node, "title") ?? attribute(node, "text"),
                        homePage: attribute(node, "htmlUrl")))
            }
            pending += children(node).reversed()
        }
    }

    /// An OPML 2.0 document listing `feeds` under `title`.
    public static func document(title: String, feeds: [Outline]) -> String {
        func escaped(_ text: String) -> String {
            var result = ""
            for character in text {
                switch character {
                case "&": result += "&amp;"
                case "<": result += "&lt;"
                case ">": result += "&gt;"
                case "\"": result += "&quot;"
                default: result.append(character)
                }
            }
            return result
        }
        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<opml version=\"2.0\">",
            "  <head><title>\(escaped(title))</title></head>", "  <body>",
        ]
        for feed in feeds {
            let title = escaped(feed.title ?? feed.url)
            var line = "    <outline type=\"rss\" text=\"\(title)\" title=\"\(title)\" xmlUrl=\"\(escaped(feed.url))\""
            if let homePage = feed.homePage { line += " htmlUrl=\"\(escaped(homePage))\"" }
            lines.append(line + "/>")
        }
        lines += ["  </body>", "</opml>"]
        return lines.joined(separator: "\n") + "\n"
    }
}
