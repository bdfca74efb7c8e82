// Evy docs, "Using SSL": a TLS server. This one echoes every line back over TLS.
// Without certificate files it makes a throw-away self-signed one with the openssl tool.
//   swift run example-ssl-echo-server [port] [cert.pem key.pem]
// Try it with `openssl s_client -connect localhost:8443`.
import Evy
import Foundation
import Glibc

/// Prints a line at once, also when stdout is a pipe.
func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

let arguments = Array(CommandLine.arguments.dropFirst())
let port = arguments.first.flatMap { Int($0) } ?? 8443

func certificateFiles() async throws -> (String, String) {
    if arguments.count >= 3 { return (arguments[1], arguments[2]) }
    let directory = NSTemporaryDirectory() + "evy-ssl-example-\(getpid())"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let (certificate, key) = (directory + "/cert.pem", directory + "/key.pem")
    let (status, _, error) = try await ChildProcess.run([
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ])
    guard status.succeeded else { throw TLSError.configuration(String(decoding: error, as: UTF8.self)) }
    say("made a self-signed certificate: \(certificate)")
    return (certificate, key)
}

try Hub.run {
    let (certificate, key) = try await certificateFiles()
    let context = try TLSContext.server(certificateFile: certificate, keyFile: key)
    let listener = try listen(on: SocketAddress(ip: "0.0.0.0", port: port))
    for signal in [SIGINT, SIGTERM] { try Hub.current.addSignalHandler(signal) { listener.close() } }
    say("TLS echo server listening on port \(listener.localAddress!.port)")
    try await serveTLS(listener, context: context, handshakeTimeout: .seconds(10)) { connection, address in
        say("client \(address) connected with \(connection.protocolVersion)")
        let stream = connection.buffered()
        while let line = try await stream.readLine() {
            try await stream.write(line + "\n")
            try await stream.flush()
        }
        say("client \(address) left")
    }
    say("server stopped")
}
