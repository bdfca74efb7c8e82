import Evy

/// Writes a streamed response body.
public final class HTTPBodyWriter: @unchecked Sendable {
    let stream: any GreenStream
    let chunked: Bool
    private(set) var bytesWritten = 0

    init(stream: any GreenStream, chunked: Bool) {
        self.stream = stream
        self.chunked = chunked
    }

    /// Sends `bytes` as the next piece of the body.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        bytesWritten += bytes.count
        if chunked {
            try await stream.sendAll(
                Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10], timeout: nil)
        } else {
            try await stream.sendAll(bytes, timeout: nil)
        }
    }

    /// Sends `text` as UTF-8.
    public func write(_ text: String) async throws { try await write(Array(text.utf8)) }

    func finish() async throws {
        if chunked { try await stream.sendAll(Array("0\r\n\r\n".utf8), timeout: nil) }
    }
}
