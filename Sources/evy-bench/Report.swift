// What evy-bench prints: one JSON object a line, for results and failures alike.
import Foundation
import Glibc

/// One JSON line of `fields` in their order: strings quoted and escaped, doubles to 4 significant
/// digits, anything else as Swift prints it.
func json(_ fields: [(String, Any)]) -> String {
    "{"
        + fields.map { key, value in
            let rendered: String
            switch value {
            case let text as String: rendered = quoted(text)
            case let number as Double: rendered = String(format: "%.4g", number)
            default: rendered = "\(value)"
            }
            return "\"\(key)\": \(rendered)"
        }.joined(separator: ", ") + "}"
}

/// `text` as a JSON string.
private func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// A measurement that could not be made; its description goes into the error line.
struct BenchmarkFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Whether an ``attempt(_:source:_:)`` has failed in this process (evy-bench then exits with 1).
/// Main thread only.
nonisolated(unsafe) private(set) var someAttemptFailed = false

/// Runs `body`; if it throws, prints `{"name": NAME, "source": SOURCE, "error": ...}` and
/// returns false, so that the caller goes on with the next scenario or source.
@discardableResult
func attempt(_ name: String, source: String? = nil, _ body: () throws -> Void) -> Bool {
    do {
        try body()
        return true
    } catch {
        someAttemptFailed = true
        var fields: [(String, Any)] = [("name", name)]
        if let source { fields.append(("source", source)) }
        print(json(fields + [("error", "\(error)")]))
        fflushStandardOutput()
        return false
    }
}

/// Pushes printed lines out now (a later crash must not swallow them).
func fflushStandardOutput() { fflush(nil) }
