// libFuzzer entry point for the parsers that read what peers send: HTTP requests and responses, WebSocket
// frames (the decoder alone and the connection), feeds, HTML, robots.txt and EvyJobs messages. Built and run by
// scripts/fuzz (EVY_FUZZ=1 adds this target to the package); the target is picked with
// EVY_FUZZ_TARGET=request|response|websocket|feed|html|links|robots|jobs. A crash, a leak under ASan, or a
// violated invariant (fatalError below) is a finding. Empty chunks are skipped as the server does
// (to http_parser, zero bytes mean end of input).
import Evy
import EvyJobs
import EvyTestSupport
import Foundation

@testable import EvyCrawl
@testable import EvyHTTP

/// A peer that sends the fuzz input in pieces of a size the input picks, then closes.
private func scripted(_ bytes: [UInt8], piece: Int? = nil) -> ScriptedStream {
    ScriptedStream(bytes, piece: piece ?? 1 + Int(bytes.first ?? 0) % 64)
}

/// Reads the input as frames from a client, as a server would; a protocol error must answer with
/// a close frame, and a message over the limit must never be returned.
private func fuzzWebSocket(_ bytes: [UInt8]) {
    try! Hub.run {
        let peer = scripted(bytes)
        let socket = WebSocket(stream: peer, reader: BufferedStream(peer), isClient: false, maxMessageBytes: 1024)
        do {
            while let message = try await socket.receive() {
                switch message {
                case .text(let text): if text.utf8.count > 1024 { fatalError("text over the limit") }
                case .binary(let data): if data.count > 1024 { fatalError("binary over the limit") }
                }
            }
        } catch WebSocketError.protocolError(let reason) where reason.contains("without a close frame") {
            return  // the peer just went away
        } catch {
            // The server must tell the client why: its last frame is a close frame.
            if !peer.sent.contains(0x88) { fatalError("\(error) without a close frame") }
        }
    }
}

/// The frames, and the error that ended them, that a server's decoder reads out of `bytes` fed
/// in pieces of `piece` bytes.
private func decodeFrames(_ bytes: [UInt8], piece: Int) -> (frames: [WebSocketFrame], error: WebSocketProtocolError?) {
    var decoder = WebSocketFrameDecoder(expectsMaskedFrames: true, maxPayloadBytes: 1024)
    var frames: [WebSocketFrame] = []
    var offset = 0
    repeat {
        let end = min(bytes.count, offset + piece)
        decoder.feed(Array(bytes[offset..<end]))
        offset = end
        do {
            while let frame = try decoder.next() { frames.append(frame) }
        } catch {
            return (frames, error)
        }
    } while offset < bytes.count
    return (frames, nil)
}

/// Reads the input with the frame decoder alone: in pieces it must read what it reads whole, never
/// a frame the protocol forbids, and the frames it reads, encoded again, must read the same.
private func fuzzWebSocketDecoder(_ bytes: [UInt8]) {
    let whole = decodeFrames(bytes, piece: max(1, bytes.count))
    let inPieces = decodeFrames(bytes, piece: 1 + Int(bytes.first ?? 0) % 64)
    if inPieces.frames != whole.frames || inPieces.error != whole.error {
        fatalError(
            "pieces and whole differ: \(inPieces.frames.count) frames, \(String(describing: inPieces.error)) "
                + "against \(whole.frames.count), \(String(describing: whole.error))")
    }
    for frame in whole.frames {
        if frame.payload.count > 1024 { fatalError("a frame over the limit: \(frame.payload.count)") }
        if frame.opcode.isControl, !frame.fin || frame.payload.count > 125 { fatalError("a bad control frame passed") }
    }
    let again = decodeFrames(whole.frames.flatMap { $0.encode(maskKey: 0xA5A5_5A5A) }, piece: 7)
    if again.frames != whole.frames || again.error != nil { fatalError("re-encoded frames read differently") }
}

/// Reads the input as a server's response, as the client does: every outcome is a response
/// within the body limit or an `HTTPClientError`, and the same whatever the pieces it came in.
private func fuzzResponse(_ bytes: [UInt8]) {
    func read(_ peer: ScriptedStream) -> String {
        try! Hub.run {
            do {
                let (response, reusable, _) = try await HTTPClient.readResponse(
                    from: BufferedStream(peer), head: false, url: URL(string: "http://example.com/")!,
                    maxBodyBytes: 4096, readTimeout: .seconds(1))
                if response.body.count > 4096 { fatalError("body over the limit: \(response.body.count)") }
                // Whether the connection can be reused depends on what came in the same read.
                _ = reusable
                return "\(response.status) \(response.headers.count) \(response.body)"
            } catch let error as HTTPClientError {
                return "\(error)"
            } catch is HTTPClient.ConnectionDropped {
                return "dropped before the response"
            } catch {
                fatalError("not an HTTPClientError: \(error)")
            }
        }
    }
    let inPieces = read(scripted(bytes))
    let whole = read(scripted(bytes, piece: 65536))
    if inPieces != whole { fatalError("pieces and whole differ:\n\(inPieces)\n---\n\(whole)") }
}

/// The parsed requests, or the error, as comparable text.
private func parse(_ chunks: [ArraySlice<UInt8>]) -> String {
    let parser = RequestParser(maxHeaderBytes: 4096, maxBodyBytes: 8192)
    var requests: [HTTPRequest] = []
    do {
        // After an upgrade the bytes belong to the new protocol: the server stops parsing too.
        for chunk in chunks where !chunk.isEmpty && !parser.upgraded {
            try chunk.withUnsafeBytes { try parser.feed($0) }
            requests += parser.takeCompleted()
        }
        try parser.finish()
        requests += parser.takeCompleted()
    } catch {
        return "error after \(requests.count + parser.takeCompleted().count) requests"
    }
    for request in requests where request.body.bytesReceived > 8192 {
        fatalError("body over the limit: \(request.body.bytesReceived)")
    }
    return requests.map { "\($0.method) \($0.target) \($0.headers.count) \($0.body.buffered) \($0.keepAlive)" }.joined(
        separator: "\n")
}

/// Reads the input as the frames of an EvyJobs message: each frame is a u16 big-endian length and
/// that many bytes (the last one what is left). Decoding must never crash, and what decodes must
/// re-encode to the very same frames (the encoding is canonical), which decode to the same message.
private func fuzzJobs(_ bytes: [UInt8]) {
    var frames: [[UInt8]] = []
    var index = 0
    while index + 2 <= bytes.count {
        let length = Int(bytes[index]) << 8 | Int(bytes[index + 1])
        let end = min(index + 2 + length, bytes.count)
        frames.append(Array(bytes[index + 2..<end]))
        index = end
    }
    let message: Message
    do {
        message = try MessageCodec.decode(frames)
    } catch {
        _ = MessageCodec.requestID(ofUndecodable: frames)
        return
    }
    let again = MessageCodec.encode(message)
    if again != frames { fatalError("\(message) re-encodes to other frames:\n\(frames)\n---\n\(again)") }
    guard let decoded = try? MessageCodec.decode(again), decoded == message else {
        fatalError("\(message) does not decode from its own frames")
    }
}

private let target = ProcessInfo.processInfo.environment["EVY_FUZZ_TARGET"] ?? "request"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "request":
        // The same bytes whole and cut in two must parse the same: the server reads in pieces.
        let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        let whole = parse([bytes[...]])
        let split = parse([bytes[..<cut], bytes[cut...]])
        if whole != split { fatalError("split at \(cut) parses differently:\n\(whole)\n---\n\(split)") }
    case "feed":
        let feed = Feed(data: bytes)
        if !feed.bozo, bytes.isEmpty { fatalError("an empty document is not a well-formed feed") }
    case "websocket":
        fuzzWebSocketDecoder(bytes)
        fuzzWebSocket(bytes)
    case "response":
        fuzzResponse(bytes)
    case "html":
        _ = HTMLPage(html: bytes, url: URL(string: "http://example.com/a/b")!).links
    case "links":
        // Links resolved on their bytes must resolve as Foundation resolves them.
        guard let selector = bytes.first else { return 0 }
        let bases = ["http://example.com/a/b?q=1", "https://Example.COM:8443/dir/", "http://h/a/./b/../c", "http://h"]
        let base = URL(string: bases[Int(selector) % bases.count])!
        let href = Array(bytes.dropFirst())
        let fast = href.withUnsafeBufferPointer { LinkResolver(base: base).resolve($0) }
        let text = String(decoding: href, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let slow = URL(string: text, relativeTo: base).flatMap { HTMLPage.normalizedURL($0.absoluteURL) }
        if fast != slow { fatalError("\(text) against \(base): \(fast ?? "nil") but Foundation says \(slow ?? "nil")") }
    case "jobs":
        fuzzJobs(bytes)
    case "robots":
        let robots = RobotsTxt(text: String(decoding: bytes, as: UTF8.self))
        _ = robots.allows("/some/path", userAgent: "evy")
        _ = robots.crawlDelay(for: "evy")
    default:
        fatalError("EVY_FUZZ_TARGET must be request, response, websocket, feed, html, links, robots or jobs")
    }
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

/// SwiftPM points an executable's `main` here: hand the command line to libFuzzer's driver.
@_cdecl("evy_fuzz_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { fuzz($0, $1) }
}
