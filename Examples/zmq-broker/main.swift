// A ZeroMQ ROUTER/DEALER broker (the guide's request-reply broker): REQ clients connect to the
// broker's ROUTER frontend, REP workers to its DEALER backend, and a green ZMQProxy shuttles the
// messages, envelopes and all. Clients and workers are green threads here.
//   swift run example-zmq-broker [clients] [workers] [requests-per-client]
import Evy
import EvyZMQ
import Foundation

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let (clients, workers, requests) = (
    arguments.first ?? 4, arguments.dropFirst().first ?? 2, arguments.dropFirst(2).first ?? 5
)

try Hub.run {
    let frontend = try ZMQSocket(.router)
    try frontend.bind("tcp://127.0.0.1:*")
    let backend = try ZMQSocket(.dealer)
    try backend.bind("tcp://127.0.0.1:*")
    let proxy = ZMQProxy(frontend: frontend, backend: backend)
    proxy.start()
    for number in 0..<workers {
        spawnN {
            let socket = try ZMQSocket(.rep)
            try socket.connect(backend.lastEndpoint!)
            while true {
                let request = try await socket.receiveString()
                try await socket.send("\(request) handled by worker \(number)")
            }
        }
    }
    let pile = GreenPile<[String]>()
    for client in 0..<clients {
        try await pile.spawn {
            let socket = try ZMQSocket(.req)
            try socket.connect(frontend.lastEndpoint!)
            var replies: [String] = []
            for request in 0..<requests {
                try await socket.send("request \(request) of client \(client)")
                replies.append(try await socket.receiveString(timeout: .seconds(10)))
            }
            socket.close(linger: .zero)
            return replies
        }
    }
    var answered = 0
    for try await replies in pile {
        for reply in replies { say(reply) }
        answered += replies.count
    }
    await proxy.stop()
    say("\(answered) requests answered; the broker forwarded \(proxy.forwarded) messages")
}
