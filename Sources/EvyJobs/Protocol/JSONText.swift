/// JSON written by hand where a `JSONEncoder` pass is the hot path (a crawl's or a feed's tasks).

/// Appends `text` as a JSON string (quoted; `"`, `\\` and control characters escaped).
package func appendJSONString(_ text: String, to bytes: inout [UInt8]) {
    bytes.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            bytes += [UInt8(ascii: "\\"), byte]
        case ..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            bytes += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
        default:
            bytes.append(byte)
        }
    }
    bytes.append(UInt8(ascii: "\""))
}

/// `text` as a JSON string literal.
package func jsonQuoted(_ text: String) -> String {
    var bytes: [UInt8] = []
    appendJSONString(text, to: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}
