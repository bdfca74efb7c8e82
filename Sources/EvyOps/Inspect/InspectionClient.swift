import Evy
import Foundation

/// The other end of an ``InspectionEndpoint``: what `evy inspect ADDRESS [COMMAND]` uses.
public enum InspectionClient {
    /// Sends `command` to the endpoint at `address` and returns its one-line JSON answer. Throws a
    /// `SocketError` when nothing listens there, `TimeoutError` after `timeout`.
    public static func ask(_ address: ListenAddress, _ command: String, timeout: Duration = .seconds(5)) async throws
        -> String
    {
        let socket = try await connect(to: address.address, timeout: timeout)
        defer { socket.close() }
        let stream = socket.buffered()
        try await stream.write(command + "\n", timeout: timeout)
        try await stream.flush(timeout: timeout)
        guard let line = try await stream.readLine(maxLength: 64 << 20, timeout: timeout) else {
            throw InspectionClientError.closed
        }
        return line
    }

    /// An `all` answer (or one of its parts) as text for a terminal: the hub, its green threads
    /// with what they wait on, its pools, the role's state. Anything else comes back as it is.
    public static func report(_ json: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) else { return json }
        guard let all = object as? [String: Any], all["hub"] != nil else { return pretty(object) }
        var lines: [String] = []
        lines.append("role: \(all["role"] ?? "?")")
        if let hub = all["hub"] as? [String: Any] {
            lines.append(
                "hub: \(hub["jobsRun"] ?? 0) jobs run in \(hub["turns"] ?? 0) turns, longest turn \(hub["longestTurnMs"] ?? 0) ms, "
                    + "\(hub["greenThreads"] ?? 0) green threads, \(hub["timers"] ?? 0) timers, \(hub["watchedDescriptors"] ?? 0) descriptors, "
                    + "blocking reports \(hub["blockingReports"] ?? 0)"
                    + ((hub["blockingThresholdMs"] as? Double).map { " (detector at \($0) ms)" } ?? " (detector off)"))
        }
        if let pools = all["pools"] as? [[String: Any]], !pools.isEmpty {
            lines.append("pools:")
            for pool in pools {
                lines.append(
                    "  \(pool["kind"] ?? "?") \(pool["name"] as? String ?? "(unnamed)"): size \(pool["size"] ?? 0), "
                        + "in use \(pool["inUse"] ?? 0), free \(pool["free"] ?? 0), waiting \(pool["waiting"] ?? 0)")
            }
        }
        if let threads = all["threads"] as? [[String: Any]] {
            lines.append("green threads (\(threads.count)):")
            for thread in threads.prefix(200) {
                let name = thread["name"] as? String ?? "(unnamed)"
                let wait = (thread["waitingOn"] as? String).map { "waiting on \($0)" } ?? "ready"
                let timeout = (thread["timesOutInMs"] as? Double).map { ", times out in \($0) ms" } ?? ""
                let pool = (thread["pool"] as? String).map { " [\($0)]" } ?? ""
                let age = String(format: "%.1f", thread["ageSeconds"] as? Double ?? 0)
                lines.append("  \(name)\(pool): \(wait)\(timeout), alive \(age) s")
            }
        }
        if let state = all["state"] { lines.append("state:\n" + pretty(state)) }
        return lines.joined(separator: "\n")
    }

    private static func pretty(_ object: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) else {
            return "\(object)"
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// How a console request fails besides the socket's own errors.
public enum InspectionClientError: Error, CustomStringConvertible {
    /// The endpoint closed the connection without answering.
    case closed

    public var description: String { "the inspection endpoint closed the connection without answering" }
}
