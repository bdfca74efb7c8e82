// hummingbird-hello PORT: answers every GET / with "Hello, World!" and prints `listening PORT`
// once it accepts connections (PORT 0: a port the system picks, and the line says which).
import Foundation
import Hummingbird

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8080
let router = Router()
router.get("/") { _, _ in "Hello, World!\r\n" }
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    onServerRunning: { channel in
        FileHandle.standardOutput.write(Data("listening \(channel.localAddress?.port ?? port)\n".utf8))
    }
)
try await app.runService()
