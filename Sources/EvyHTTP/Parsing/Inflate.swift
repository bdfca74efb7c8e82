import CZlib

/// Decodes `gzip` and `deflate` bodies with zlib.
enum Inflate {
    /// The decompressed bytes; throws ``HTTPClientError/badCompression(_:)`` for truncated or
    /// corrupt data, ``HTTPClientError/bodyTooLarge(limit:)`` past `limit`.
    static func decode(_ data: [UInt8], limit: Int) throws -> [UInt8] {
        // gzip or zlib, told by their headers (15 + 32 lets zlib detect which); some servers send
        // raw deflate for "deflate", which has no header (-15).
        let gzip = data.starts(with: [0x1f, 0x8b])
        let zlib = data.count >= 2 && data[0] & 0x0f == 8 && (UInt16(data[0]) << 8 | UInt16(data[1])) % 31 == 0
        return try run(data, windowBits: gzip || zlib ? 15 + 32 : -15, limit: limit)
    }

    private static func run(_ data: [UInt8], windowBits: Int32, limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        guard evy_inflateInit2(&stream, windowBits) == Z_OK else { throw HTTPClientError.badCompression("inflateInit") }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var input = data
        var status: Int32 = Z_OK
        input.withUnsafeMutableBufferPointer { raw in
            stream.next_in = raw.baseAddress
            stream.avail_in = uInt(raw.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(out.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                output.append(contentsOf: chunk[..<produced])
            } while status == Z_OK && output.count <= limit && (stream.avail_in > 0 || stream.avail_out == 0)
        }
        if output.count > limit { throw HTTPClientError.bodyTooLarge(limit: limit) }
        guard status == Z_STREAM_END else {
            throw HTTPClientError.badCompression(
                status == Z_OK || status == Z_BUF_ERROR ? "truncated data" : "corrupt data")
        }
        return output
    }
}
