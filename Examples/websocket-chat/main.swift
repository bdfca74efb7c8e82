// Evy docs, examples/websocket_chat.py: the chat server over WebSockets. Every message a
// participant sends on `/chat` goes to all participants; `/` serves the chat page
// (`/?name=Alice` announces "Alice joined").
//   swift run example-websocket-chat [port]     then open http://localhost:7000/ in a few tabs
import Evy
import EvyHTTP
import Foundation
import Glibc

func say(_ text: String) { try? FileHandle.standardOutput.write(contentsOf: Data((text + "\n").utf8)) }
let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 7000

/// The participants, shared by the green threads of one hub: no lock needed.
final class Room: @unchecked Sendable {
    var participants: [ObjectIdentifier: WebSocket] = [:]
}

/// The chat page: a log, an input line, and a WebSocket to `/chat` on the same host.
let page = """
    <!doctype html>
    <html><head><meta charset="utf-8"><title>Evy WebSocket chat</title>
    <style>body{font-family:sans-serif;margin:2em} #log{height:20em;overflow:auto;border:1px solid #999;padding:.5em}</style>
    </head><body>
    <h3>Evy WebSocket chat</h3>
    <div id="log"></div>
    <form id="form"><input id="message" autocomplete="off" size="60"> <button>Send</button></form>
    <script>
    const log = document.getElementById("log");
    const socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat");
    const name = new URLSearchParams(location.search).get("name");
    socket.onopen = () => { if (name) socket.send(name + " joined"); };
    socket.onmessage = event => {
      const line = document.createElement("div");
      line.textContent = event.data;
      log.appendChild(line);
      log.scrollTop = log.scrollHeight;
    };
    document.getElementById("form").onsubmit = event => {
      event.preventDefault();
      const input = document.getElementById("message");
      if (input.value) socket.send(input.value);
      input.value = "";
    };
    </script>
    </body></html>
    """

try Hub.run {
    let room = Room()
    let server = HTTPServer { request, _ in
        guard request.path == "/chat" else {
            return HTTPResponse(headers: [("Content-Type", "text/html")], body: Array(page.utf8))
        }
        return .webSocket(request) { socket in
            let id = ObjectIdentifier(socket)
            room.participants[id] = socket
            say("Participant joined chat.")
            defer {
                room.participants[id] = nil
                say("Participant left chat.")
            }
            while let message = try await socket.receive() {
                // A participant that has gone away is skipped; it leaves on its own.
                for participant in room.participants.values { try? await participant.send(message) }
            }
        }
    }
    let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: port))
    say("Visit http://localhost:\(listener.localAddress!.port)/ in your websocket-capable browser.")
    for signal in [SIGINT, SIGTERM] {
        try Hub.current.addSignalHandler(signal) { spawnN { await server.stop(grace: .seconds(1)) } }
    }
    try await server.serve(listener)
    say("server stopped")
}
