import CHTTPParser

/// Node's http_parser (`libhttp-parser`) and its callback table, shared by the request and the
/// response parser. Heap-allocated: the callbacks read the parser while `http_parser_execute`
/// runs, which Swift's exclusivity rules would refuse for stored properties passed inout.
final class NodeHTTPParser {
    let parser = UnsafeMutablePointer<http_parser>.allocate(capacity: 1)
    let settings = UnsafeMutablePointer<http_parser_settings>.allocate(capacity: 1)

    init(_ type: http_parser_type) {
        parser.initialize(to: http_parser())
        settings.initialize(to: http_parser_settings())
        http_parser_init(parser, type)
    }

    deinit {
        parser.deallocate()
        settings.deallocate()
    }

    /// Runs the parser over `bytes` (nil: the end of the input) with `owner` reachable from the
    /// callbacks through ``owner(of:)``; returns how many bytes it parsed.
    func execute(_ bytes: UnsafeRawBufferPointer?, for owner: AnyObject) -> Int {
        parser.pointee.data = Unmanaged.passUnretained(owner).toOpaque()
        guard let bytes else { return http_parser_execute(parser, settings, nil, 0) }
        return bytes.withMemoryRebound(to: CChar.self) {
            http_parser_execute(parser, settings, $0.baseAddress, $0.count)
        }
    }

    /// The object whose ``execute(_:for:)`` is running the callback that got `parser`.
    static func owner<Owner: AnyObject>(of parser: UnsafeMutablePointer<http_parser>?) -> Owner {
        Unmanaged<Owner>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
    }
}
