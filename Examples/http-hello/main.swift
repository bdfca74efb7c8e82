// Evy docs, examples/wsgi.py: "Hello, World!" from the green HTTP server, with a post hook as in
// the docs' "Non-Standard Extension to Support Post Hooks". Ctrl-C stops it gracefully.
//   swift run example-http-hello [port]      (8090; 0 picks a free port)
import Evy
import EvyHTTP
import Foundation
import Glibc

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8090

try Hub.run {
    let server = HTTPServer { request, exchange in
        exchange.addPostHook { say("Hook called after answering \(request.method) \(request.target)") }
        return HTTPResponse(
            status: 200, headers: [("Content-Type", "text/plain")], body: Array("Hello, World!\r\n".utf8))
    }
    let listener = try listen(on: SocketAddress(ip: "0.0.0.0", port: port))
    say("http://localhost:\(listener.localAddress!.port)/ is serving")
    for signal in [SIGINT, SIGTERM] {
        try Hub.current.addSignalHandler(signal) { spawnN { await server.stop() } }
    }
    try await server.serve(listener)
    say("server stopped")
}
