import CLibXML2

/// libxml2's global state, set up once (thread-safely) before the first parse: hubs on several
/// threads may parse at the same time, and libxml2 asks for `xmlInitParser` before that.
enum LibXML {
    static let ready: Void = xmlInitParser()
}
