// Evy docs, examples/forwarder.py and the Eventlet blog's port forwarder: forwards connections
// received on port 7000 to localhost:22 (or the ports given), calling back when the client closes.
//   swift run example-forwarder [listen-port] [target-host:port]
import Evy
import Foundation
import Glibc

/// Prints a line at once, also when stdout is a pipe.
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let arguments = Array(CommandLine.arguments.dropFirst())
let listenPort = arguments.first.flatMap { Int($0) } ?? 7000
let target = arguments.dropFirst().first ?? "localhost:22"
let targetHost = String(target.split(separator: ":").first ?? "localhost")
let targetPort = target.split(separator: ":").last.flatMap { Int($0) } ?? 22

func closedCallback() { say("called back") }

/// Forwards bytes one way until end of file, then half-closes the other side.
func forward(_ source: Socket, _ destination: Socket, then callback: @escaping @Sendable () -> Void = {}) async {
    defer { try? destination.shutdown(.write) }
    while let data = try? await source.receive(maxLength: 32384), !data.isEmpty {
        guard (try? await destination.sendAll(data)) != nil else { break }
    }
    callback()
}

try Hub.run {
    let listener = try await listen(host: "localhost", port: listenPort)
    say("forwarding port \(listener.localAddress!.port) to \(targetHost):\(targetPort)")
    for signal in [SIGINT, SIGTERM] { try Hub.current.addSignalHandler(signal) { listener.close() } }
    while true {
        let client: Socket
        do { client = try await listener.accept().0 } catch SocketError.closed { break }
        let server: Socket
        do {
            server = try await connect(host: targetHost, port: targetPort, timeout: .seconds(10))
        } catch {
            say("cannot reach \(targetHost):\(targetPort): \(error)")
            client.close()
            continue
        }
        // Two one-way forwarders make a two-way one.
        spawnN { await forward(client, server, then: closedCallback) }
        spawnN { await forward(server, client) }
    }
}
