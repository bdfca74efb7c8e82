// ZeroMQ PUB/SUB (the guide's weather server): a publisher sends updates for random zip codes;
// each green subscriber subscribes to one zip code and averages its temperatures.
//   swift run example-zmq-pubsub [updates-per-subscriber]
import Evy
import EvyZMQ
import Foundation

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let updates = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 10

try Hub.run {
    let publisher = try ZMQSocket(.pub)
    try publisher.bind("tcp://127.0.0.1:*")
    let endpoint = publisher.lastEndpoint!
    let weather = spawn {
        while true {
            let zip = Int.random(in: 10000...10004)
            try await publisher.send("\(zip) \(Int.random(in: -10...35)) \(Int.random(in: 10...60))")
            try await sleep(for: .milliseconds(1))
        }
    }
    let pile = GreenPile<String>()
    for zip in ["10001", "10003"] {
        try await pile.spawn {
            let subscriber = try ZMQSocket(.sub)
            try subscriber.subscribe(zip + " ")
            try subscriber.connect(endpoint)
            var total = 0
            for _ in 0..<updates {
                let fields = try await subscriber.receiveString(timeout: .seconds(30)).split(separator: " ")
                total += Int(fields[1]) ?? 0
            }
            subscriber.close(linger: .zero)
            return "average temperature for zip code \(zip) was \(total / updates)F"
        }
    }
    for try await line in pile { say(line) }
    weather.cancel()
    publisher.close(linger: .zero)
}
