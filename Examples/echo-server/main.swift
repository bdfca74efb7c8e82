// Evy docs, examples/echoserver.py: listens on port 6000 (or the port given; 0 picks a free one)
// and echoes every line back. Try it with `telnet localhost 6000`. Ctrl-C stops it.
//   swift run example-echo-server [port]
import Evy
import Foundation
import Glibc

/// Prints a line at once, also when stdout is a pipe.
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 6000

try Hub.run {
    let server = try listen(on: SocketAddress(ip: "0.0.0.0", port: port))
    say("server socket listening on port \(server.localAddress!.port)")
    for signal in [SIGINT, SIGTERM] {
        try Hub.current.addSignalHandler(signal) { server.close() }  // ends the accept loop
    }
    let pool = GreenPool()
    while true {
        let client: Socket
        let address: SocketAddress
        do {
            (client, address) = try await server.accept()
        } catch SocketError.closed {
            break
        }
        say("accepted \(address)")
        try await pool.spawnN {
            say("client connected")
            let stream = client.buffered()
            defer { client.close() }
            // Pass through every line until end of file.
            while let line = try await stream.readLine() {
                try await stream.write(line + "\n")
                try await stream.flush()
                say("echoed \(line)")
            }
            say("client disconnected")
        }
    }
    say("server stopped")
}
