// Evy docs, examples/connect.py: connects to several servers at once through a GreenPile, sends a
// request to each and prints the start of every answer, in the order given.
//   swift run example-connect [host[:port] ...]     (default: google, yandex and python.org, port 80)
import Evy
import Foundation

/// Prints a line at once, also when stdout is a pipe.
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let targets =
    CommandLine.arguments.count > 1
    ? Array(CommandLine.arguments.dropFirst()) : ["www.google.com", "www.yandex.ru", "www.python.org"]

func getURL(_ target: String) async throws -> String {
    let parts = target.split(separator: ":")
    let host = String(parts[0])
    let port = parts.count > 1 ? Int(parts[1]) ?? 80 : 80
    let socket = try await connect(host: host, port: port, timeout: .seconds(10))
    defer { socket.close() }
    say("\(target) connected")
    try await socket.sendAll("GET / HTTP/1.0\r\nHost: \(host)\r\n\r\n")
    return String(decoding: try await socket.receive(maxLength: 1024, timeout: .seconds(10)), as: UTF8.self)
}

try Hub.run {
    let pile = GreenPile<String>()
    for target in targets { try await pile.spawn { try await getURL(target) } }
    // The pile yields the results in spawn order; a failure is thrown at its place.
    for target in targets {
        do {
            let result = try await pile.next() ?? ""
            say("\(target): \(String(result.prefix(50)).debugDescription)")
        } catch {
            say("\(target): failed: \(error)")
        }
    }
}
