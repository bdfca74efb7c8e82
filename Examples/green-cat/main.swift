// Green standard streams: copies standard input to standard output, upper-casing it, while a
// ticker green thread keeps running — reading the terminal or a pipe never blocks the hub.
//   printf 'hello\n' | swift run example-green-cat
import Evy

try Hub.run {
    let input = try GreenStandardStreams.input
    let output = try GreenStandardStreams.output
    let ticker = spawn { () async throws -> Int in
        var ticks = 0
        while true {
            try await sleep(for: .milliseconds(10))
            ticks += 1
        }
    }
    var lines = 0
    let stream = input.buffered()
    while let line = try await stream.readLine() {
        try await output.sendAll(Array((line.uppercased() + "\n").utf8))
        lines += 1
    }
    ticker.cancel()
    try await output.sendAll(Array("\(lines) lines\n".utf8))
}
