// ZeroMQ REQ/REP: a green server answers "Hello" with "World"; clients ask in turn.
//   swift run example-zmq-reqrep [requests]
import Evy
import EvyZMQ
import Foundation

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let requests = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 10

try Hub.run {
    let server = try ZMQSocket(.rep)
    try server.bind("tcp://127.0.0.1:*")
    spawnN {
        while true {
            let request = try await server.receiveString()
            try await server.send(request == "Hello" ? "World" : "Pardon?")
        }
    }
    let client = try ZMQSocket(.req)
    try client.connect(server.lastEndpoint!)
    for number in 0..<requests {
        try await client.send("Hello")
        say("Received reply \(number): \(try await client.receiveString(timeout: .seconds(5)))")
    }
    client.close(linger: .zero)
    server.close(linger: .zero)
}
