import CLibXML2

/// libxml2's global state, set up once (thread-safely) before the first parse: hubs on several
/// threads may parse at the same time, and libxml2 asks for `xmlInitParser` before that.
enum LibXML {
    static let ready: Void = xmlInitParser()
}

// MARK: Reading a libxml2 tree (feeds, OPML)

/// The element's local name.
func name(_ node: xmlNodePtr) -> String {
    node.pointee.name.map { String(cString: $0) } ?? ""
}

/// The element's namespace URI.
func namespace(_ node: xmlNodePtr) -> String? {
    node.pointee.ns?.pointee.href.map { String(cString: $0) }
}

/// The element children of `node`, in order.
func children(_ node: xmlNodePtr) -> [xmlNodePtr] {
    var result: [xmlNodePtr] = []
    var child = node.pointee.children
    while let current = child {
        if current.pointee.type == XML_ELEMENT_NODE { result.append(current) }
        child = current.pointee.next
    }
    return result
}

/// The value of `node`'s attribute `name`.
func attribute(_ node: xmlNodePtr, _ name: String) -> String? {
    var property = node.pointee.properties
    while let current = property {
        if let raw = current.pointee.name, String(cString: raw) == name,
            let value = xmlNodeGetContent(UnsafeMutableRawPointer(current).assumingMemoryBound(to: xmlNode.self))
        {
            defer { evy_xmlFree(value) }
            return String(cString: value)
        }
        property = current.pointee.next
    }
    return nil
}

/// The trimmed text of the first child element called `name` (any namespace).
func text(of node: xmlNodePtr, _ childName: String) -> String? {
    guard let child = children(node).first(where: { name($0) == childName }), let content = xmlNodeGetContent(child)
    else {
        return nil
    }
    defer { evy_xmlFree(content) }
    return trimmedText(content)
}
