// Evy docs, examples/chat_server.py: every line a participant sends goes to all the others.
// Try it with several `telnet localhost 3001`. Ctrl-C stops it.
//   swift run example-chat-server [port]
import Evy
import Foundation
import Glibc

/// Prints a line at once, also when stdout is a pipe.
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 3001

/// The participants, shared by the green threads of one hub: no lock needed.
final class Room: @unchecked Sendable {
    var participants: [ObjectIdentifier: BufferedStream] = [:]
}

try Hub.run {
    let room = Room()
    say("ChatServer starting up on port \(port)")
    let server = try listen(on: SocketAddress(ip: "0.0.0.0", port: port))
    say("listening on port \(server.localAddress!.port)")
    for signal in [SIGINT, SIGTERM] { try Hub.current.addSignalHandler(signal) { server.close() } }
    while true {
        let connection: Socket
        do { connection = try await server.accept().0 } catch SocketError.closed { break }
        say("Participant joined chat.")
        let writer = connection.buffered()
        let id = ObjectIdentifier(connection)
        room.participants[id] = writer
        spawnN {
            defer {
                room.participants[id] = nil
                connection.close()
                say("Participant left chat.")
            }
            let reader = connection.buffered()
            while let line = try? await reader.readLine() {
                say("Chat: \(line)")
                for (other, participant) in room.participants where other != id {
                    // A participant that closed its connection is just skipped.
                    try? await participant.write(line + "\n")
                    try? await participant.flush()
                }
            }
        }
    }
    say("ChatServer exiting.")
}
