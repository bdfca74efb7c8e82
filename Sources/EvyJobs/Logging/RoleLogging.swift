import Foundation
import Logging

/// How the executables log (swift-log): `text` (swift-log's own lines) or `json` (one object per
/// line, for log collectors), at a level. Call ``bootstrap(format:level:)`` once, first thing.
public enum RoleLogging {
    /// The formats `--log-format` takes.
    public static let formats = ["text", "json"]

    /// Sets up logging for the process: every logger writes to standard error in `format` and
    /// drops messages below `level` (`trace`, `debug`, `info`, `notice`, `warning`, `error`,
    /// `critical`). Throws ``RoleLoggingError`` for an unknown format or level (nothing set up).
    public static func bootstrap(format: String, level: String) throws {
        guard formats.contains(format) else { throw RoleLoggingError("unknown log format \(format): text or json") }
        guard let threshold = Logger.Level(rawValue: level) else {
            throw RoleLoggingError(
                "unknown log level \(level): " + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
        }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                format == "json" ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = threshold
            return handler
        }
    }
}

/// An unknown `--log-format` or `--log-level`.
public struct RoleLoggingError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One JSON object per line on standard error: `time` (ISO 8601, UTC, milliseconds), `level`,
/// `logger` (the label), `message`, `source`, and the metadata's keys under `metadata`.
/// Thread-safe: each line is written with one `write`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: Any] = [
            "time": Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            "level": event.level.rawValue, "logger": label, "message": "\(event.message)", "source": event.source,
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if !merged.isEmpty { object["metadata"] = merged.mapValues { "\($0)" } }
        guard var line = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
