/// The header fields of an HTTP message, in the order they were sent or added, with their names
/// as written. Look-ups compare names without ASCII case (`content-type` finds `Content-Type`);
/// repeated fields are kept as they are, each its own element.
///
/// ```swift
/// var headers: HTTPHeaders = [("Content-Type", "text/plain")]
/// headers.append(("Cache-Control", "no-store"))
/// headers["content-type"]    // "text/plain"
/// for (name, value) in headers { print(name, value) }
/// ```
/// A value type: `Sendable`, safe to pass between green threads and hubs.
public struct HTTPHeaders: Sendable, Equatable, RandomAccessCollection, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    /// One field: its name as written, and its value.
    public typealias Element = (name: String, value: String)

    private var fields: [Element]

    /// No fields.
    public init() { fields = [] }

    /// The fields of `pairs`, in order.
    public init(_ pairs: some Sequence<(String, String)>) { fields = pairs.map { ($0.0, $0.1) } }

    /// `fields` as they are (for the parsers).
    init(fields: [Element]) { self.fields = fields }

    /// The fields written as an array literal: `[("Content-Type", "text/html")]`.
    public init(arrayLiteral pairs: (String, String)...) { self.init(pairs) }

    public var startIndex: Int { fields.startIndex }
    public var endIndex: Int { fields.endIndex }
    public subscript(position: Int) -> Element { fields[position] }

    /// The value of the first field called `name` (compared without ASCII case), or nil.
    public subscript(name: String) -> String? {
        fields.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }

    /// The values of every field called `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }

    /// Whether a field is called `name`.
    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// Adds `field` at the end (a field of the same name stays).
    public mutating func append(_ field: (String, String)) { fields.append((field.0, field.1)) }

    /// Adds `other`'s fields at the end, in order.
    public mutating func append(contentsOf other: HTTPHeaders) { fields += other.fields }

    /// Removes every field called `name`.
    public mutating func remove(_ name: String) { fields.removeAll { $0.name.equalsIgnoringASCIICase(name) } }

    /// Removes the fields for which `shouldRemove` is true.
    public mutating func removeAll(where shouldRemove: (Element) throws -> Bool) rethrows {
        try fields.removeAll(where: shouldRemove)
    }

    /// `left`'s fields followed by `right`'s.
    public static func + (left: HTTPHeaders, right: HTTPHeaders) -> HTTPHeaders {
        var both = left
        both.append(contentsOf: right)
        return both
    }

    /// Equal when the same fields come in the same order (names compared as written).
    public static func == (left: HTTPHeaders, right: HTTPHeaders) -> Bool {
        left.fields.elementsEqual(right.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    /// The fields as they go on the wire, one `Name: value` line each.
    public var description: String { fields.map { "\($0.name): \($0.value)" }.joined(separator: "\r\n") }
}
