// Evy docs, examples/websocket.py: one HTTP server answers the page, `/echo` (every message comes
// back) and `/data` (10,000 lines "0 i random", one every 0.1 s, drawn live by the page).
//   swift run example-websocket [port]      then visit http://localhost:7000/ (0 picks a free port)
import Evy
import EvyHTTP
import Foundation
import Glibc

func say(_ text: String) { try? FileHandle.standardOutput.write(contentsOf: Data((text + "\n").utf8)) }
let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 7000

/// The WebSocket handler: like the original, it dispatches on the path.
@Sendable func handle(_ path: String, _ socket: WebSocket) async throws {
    switch path {
    case "/echo":
        while let message = try await socket.receive() { try await socket.send(message) }
    default:  // "/data"
        for i in 0..<10_000 {
            try await socket.send("0 \(i) \(Double.random(in: 0..<1))\n")
            try await sleep(for: .milliseconds(100))
        }
        await socket.close()
    }
}

/// The page: plots the `/data` stream on a canvas and echoes what you type through `/echo`.
let page = """
    <!doctype html>
    <html><head><meta charset="utf-8"><title>Evy WebSocket demo</title>
    <style>body{font-family:sans-serif;margin:2em} canvas{border:1px solid #999}</style></head>
    <body>
    <h3>Plot of the /data stream</h3>
    <canvas id="plot" width="600" height="300"></canvas>
    <p>Points received: <span id="count">0</span></p>
    <h3>Echo through /echo</h3>
    <form id="echo-form"><input id="echo-input" autocomplete="off"> <button>Send</button></form>
    <pre id="echo-log"></pre>
    <script>
    const url = path => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
    const canvas = document.getElementById("plot"), context = canvas.getContext("2d");
    const points = [];
    function draw() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      context.beginPath();
      points.slice(-300).forEach(([x, y], i) => {
        const px = i * 2, py = canvas.height - y * canvas.height;
        i === 0 ? context.moveTo(px, py) : context.lineTo(px, py);
      });
      context.stroke();
    }
    const data = new WebSocket(url("/data"));
    data.onmessage = event => {
      const [, x, y] = event.data.trim().split(" ").map(Number);
      points.push([x, y]);
      document.getElementById("count").textContent = points.length;
      draw();
    };
    const echo = new WebSocket(url("/echo"));
    echo.onmessage = event => { document.getElementById("echo-log").textContent += event.data + "\\n"; };
    document.getElementById("echo-form").onsubmit = event => {
      event.preventDefault();
      const input = document.getElementById("echo-input");
      echo.send(input.value);
      input.value = "";
    };
    </script>
    </body></html>
    """

try Hub.run {
    let server = HTTPServer { request, _ in
        switch request.path {
        case "/echo", "/data": return .webSocket(request) { try await handle(request.path, $0) }
        default: return HTTPResponse(headers: [("Content-Type", "text/html")], body: Array(page.utf8))
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
