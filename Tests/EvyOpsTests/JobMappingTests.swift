import Foundation
import XCTest

/// docs/job-mapping.md promises that every name in its Evy column exists: Swift names are declared
/// in the sources, `evy …` commands and `--options` are in the CLI reference (docs/cli.md, itself
/// generated from --help), paths exist. This test holds it to that.
final class JobMappingTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    func testEveryNameInTheEvyColumnExists() throws {
        let root = Self.repository
        let table = try String(contentsOf: root.appendingPathComponent("docs/job-mapping.md"), encoding: .utf8)
        let reference = try String(contentsOf: root.appendingPathComponent("docs/cli.md"), encoding: .utf8)
        var sources = ""
        for folder in ["Sources", "workers"] {
            let enumerator = FileManager.default.enumerator(atPath: root.appendingPathComponent(folder).path)
            while let path = enumerator?.nextObject() as? String {
                guard path.hasSuffix(".swift") else { continue }
                sources += try String(contentsOf: root.appendingPathComponent(folder + "/" + path), encoding: .utf8)
            }
        }
        let declared = { (name: String) -> Bool in
            ["func \(name)(", "func \(name)<", "var \(name)", "let \(name)", "case \(name)", "class \(name)",
                "struct \(name)", "enum \(name)", "protocol \(name)", "typealias \(name)"]
                .contains { sources.contains($0) }
        }
        var checked = 0
        for row in table.split(separator: "\n") where row.hasPrefix("| ") && !row.hasPrefix("| ---") {
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            // | Celery | Dramatiq | EvyJobs | Notes |: the Evy column is the third.
            guard cells.count >= 5, cells[1] != "Celery" else { continue }
            for span in spans(in: cells[3]) {
                checked += 1
                if span.hasPrefix("evy ") || span.hasPrefix("evy-") || span.hasPrefix("--") {
                    let words = span.split(separator: " ").map(String.init)
                    if span.hasPrefix("evy ") {
                        XCTAssertTrue(reference.contains("## evy \(words[1])\n"), "`\(span)`: no command evy \(words[1])")
                    } else if span.hasPrefix("evy-") {
                        XCTAssertTrue(reference.contains("## \(words[0])\n"), "`\(span)`: no executable \(words[0])")
                    }
                    for option in words where option.hasPrefix("--") {
                        XCTAssertTrue(reference.contains(option + " ") || reference.contains(option + "\n"), "`\(span)`: no option \(option)")
                    }
                } else if span.hasPrefix("/") {
                    XCTAssertTrue(sources.contains("\"\(span)\""), "`\(span)`: no such path served")
                } else if span.contains("/") && !span.contains("(") {
                    let path = String(span.prefix { $0 != " " })
                    XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent(path).path), "`\(span)`: no \(path)")
                } else {
                    for name in identifiers(in: span) {
                        XCTAssertTrue(declared(name), "`\(span)`: \(name) is not declared in Sources or workers")
                    }
                    for label in labels(in: span) {
                        XCTAssertTrue(sources.contains(label + ":"), "`\(span)`: no parameter \(label)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 40, "the table's names were found")
    }

    /// The `code` spans of a cell.
    private func spans(in cell: String) -> [String] {
        cell.split(separator: "`", omittingEmptySubsequences: false).enumerated().compactMap {
            $0.offset % 2 == 1 ? String($0.element) : nil
        }
    }

    /// The names a span calls or reads: `client.submit(…)` → submit, `JobOptions` → JobOptions,
    /// `priority` → priority (a receiver such as `client` or `worker` is a variable of the example).
    private func identifiers(in span: String) -> [String] {
        let code = span.components(separatedBy: " {").first ?? span
        let head = code.components(separatedBy: "(").first ?? code
        guard let last = head.split(separator: ".").last else { return [] }
        let name = String(last)
        guard name.first.map({ $0.isLetter || $0 == "_" }) == true, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else { return [] }
        return [name]
    }

    /// The argument labels of a span written as `name(label:other:)`.
    private func labels(in span: String) -> [String] {
        guard let open = span.firstIndex(of: "("), let close = span.lastIndex(of: ")"), open < close else { return [] }
        let inside = span[span.index(after: open)..<close]
        guard inside.hasSuffix(":"), !inside.contains(" ") else { return [] }
        return inside.split(separator: ":").map(String.init).filter { $0 != "_" && !$0.isEmpty }
    }
}
