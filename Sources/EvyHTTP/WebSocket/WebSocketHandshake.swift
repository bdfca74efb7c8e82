import COpenSSL
import Evy
import Foundation

extension WebSocket {
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for a key.
    static func acceptValue(for key: String) -> String {
        let input = Array((key + guid).utf8)
        var digest = [UInt8](repeating: 0, count: 20)
        _ = input.withUnsafeBufferPointer { SHA1($0.baseAddress, $0.count, &digest) }
        return Data(digest).base64EncodedString()
    }

    /// Connects to a `ws://` URL as a client (an `Origin` may be sent).
    public static func connect(
        to urlString: String, origin: String? = nil, timeout: Duration = .seconds(10),
        maxMessageBytes: Int = 16 * 1024 * 1024
    ) async throws -> WebSocket {
        guard let url = URL(string: urlString), url.scheme == "ws", let host = url.host, !host.isEmpty else {
            throw WebSocketError.handshake("not a ws:// URL: \(urlString)")
        }
        if let origin, origin.contains(where: { $0 == "\r" || $0 == "\n" }) {
            throw WebSocketError.handshake("an Origin with a line break")
        }
        let port = url.port ?? 80
        // As sent: percent escapes stay escaped (a decoded %0D%0A would end the header).
        let path = url.path(percentEncoded: true)
        let target = (path.isEmpty ? "/" : path) + (url.query(percentEncoded: true).map { "?" + $0 } ?? "")
        let hostHeader = (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        let deadline = ContinuousClock.now + timeout
        let socket = try await Evy.connect(host: host, port: port, timeout: timeout)
        do {
            return try await withTimeout(max(.zero, deadline - .now), label: "WebSocket handshake") {
                let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
                var head = HTTPHeadWriter(method: "GET", target: target)
                head.add("Host", hostHeader)
                head.add("Upgrade", "websocket")
                head.add("Connection", "Upgrade")
                head.add("Sec-WebSocket-Key", key)
                head.add("Sec-WebSocket-Version", "13")
                if let origin { head.add("Origin", origin) }
                try await socket.sendAll(head.bytes, timeout: nil)
                let answer: (response: HTTPClientResponse, reusable: Bool, leftover: [UInt8])
                do {
                    answer = try await HTTPClient.readResponse(
                        from: socket.buffered(), head: false, url: url, maxBodyBytes: 65536, readTimeout: timeout)
                } catch is HTTPClientError, is HTTPClient.ConnectionDropped {
                    throw WebSocketError.handshake("the server did not switch protocols")
                }
                let response = answer.response
                guard response.status == 101 else {
                    throw WebSocketError.handshake("the server did not switch protocols")
                }
                guard response.headers["Upgrade"]?.lowercased() == "websocket" else {
                    throw WebSocketError.handshake("the server switched to something else than websocket")
                }
                guard response.headers["Sec-WebSocket-Accept"] == acceptValue(for: key) else {
                    throw WebSocketError.handshake("wrong Sec-WebSocket-Accept")
                }
                // The server's first frames may have come with its answer: the connection reads them first.
                let reader = BufferedStream(socket, initial: answer.leftover)
                return WebSocket(stream: socket, reader: reader, isClient: true, maxMessageBytes: maxMessageBytes)
            }
        } catch {
            socket.close()
            throw error
        }
    }
}

extension HTTPResponse {
    /// Accepts a WebSocket upgrade (RFC 6455) and runs `handler` with the connection; answers 400
    /// to a request that is not a valid upgrade, 426 to another protocol version, and 403 to an
    /// `Origin` not in `allowedOrigins` (nil: any origin).
    public static func webSocket(
        _ request: HTTPRequest, allowedOrigins: Set<String>? = nil, maxMessageBytes: Int = 16 * 1024 * 1024,
        _ handler: @escaping @Sendable (WebSocket) async throws -> Void
    ) -> HTTPResponse {
        let connectionTokens = (request.header("Connection") ?? "").lowercased().split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard request.method == "GET", request.header("Upgrade")?.lowercased() == "websocket",
            connectionTokens.contains("upgrade"), let key = request.header("Sec-WebSocket-Key"),
            Data(base64Encoded: key)?.count == 16
        else { return .text("not a WebSocket upgrade\n", status: 400) }
        guard request.header("Sec-WebSocket-Version") == "13" else {
            var refusal = HTTPResponse.text("WebSocket version 13 only\n", status: 426)
            refusal.headers.append(("Sec-WebSocket-Version", "13"))
            return refusal
        }
        if let allowedOrigins, !allowedOrigins.contains(request.header("Origin") ?? "") {
            return .text("origin not allowed\n", status: 403)
        }
        return .takeOver { stream, leftover in
            var head = HTTPHeadWriter(status: 101)
            head.add("Upgrade", "websocket")
            head.add("Connection", "Upgrade")
            head.add("Sec-WebSocket-Accept", WebSocket.acceptValue(for: key))
            try await stream.sendAll(head.bytes, timeout: .seconds(10))
            let reader = BufferedStream(stream, initial: leftover)
            try await handler(
                WebSocket(stream: stream, reader: reader, isClient: false, maxMessageBytes: maxMessageBytes))
        }
    }
}
