@testable import EvyHTTP
import Foundation

/// A PNG as Chromium writes its screenshots (8-bit RGB or RGBA, not interlaced), decoded to
/// pixels so that a test can look at what a page drew.
struct PNGImage {
    struct Unsupported: Error, CustomStringConvertible {
        let why: String
        var description: String { "PNG: \(why)" }
    }

    let width: Int, height: Int
    /// RGBA, row by row.
    private let pixels: [UInt8]

    init(_ bytes: [UInt8]) throws {
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw Unsupported(why: "no signature") }
        var offset = 8
        var (width, height, channels) = (0, 0, 0)
        var compressed: [UInt8] = []
        func number(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        while offset + 8 <= bytes.count {
            let length = number(offset)
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            let data = offset + 8
            guard data + length + 4 <= bytes.count else { throw Unsupported(why: "truncated chunk") }
            switch type {
            case "IHDR":
                (width, height) = (number(data), number(data + 4))
                guard bytes[data + 8] == 8, bytes[data + 12] == 0 else { throw Unsupported(why: "not 8-bit, or interlaced") }
                switch bytes[data + 9] {
                case 2: channels = 3
                case 6: channels = 4
                default: throw Unsupported(why: "colour type \(bytes[data + 9])")
                }
            case "IDAT": compressed += bytes[data..<data + length]
            default: break
            }
            offset = data + length + 4
        }
        let stride = width * channels
        let raw = try Inflate.decode(compressed, limit: (stride + 1) * height)
        guard raw.count == (stride + 1) * height else { throw Unsupported(why: "\(raw.count) bytes of pixel data") }
        var rgba = [UInt8](repeating: 255, count: width * height * 4)
        var previous = [UInt8](repeating: 0, count: stride)
        var row = [UInt8](repeating: 0, count: stride)
        for y in 0..<height {
            let start = y * (stride + 1)
            let filter = raw[start]
            for x in 0..<stride {
                let value = raw[start + 1 + x]
                let left = x >= channels ? Int(row[x - channels]) : 0
                let up = Int(previous[x])
                let upLeft = x >= channels ? Int(previous[x - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = left
                case 2: predicted = up
                case 3: predicted = (left + up) / 2
                case 4:
                    let p = left + up - upLeft
                    let (pa, pb, pc) = (abs(p - left), abs(p - up), abs(p - upLeft))
                    predicted = pa <= pb && pa <= pc ? left : (pb <= pc ? up : upLeft)
                default: throw Unsupported(why: "filter \(filter)")
                }
                row[x] = UInt8(truncatingIfNeeded: Int(value) + predicted)
            }
            for x in 0..<width {
                for channel in 0..<channels { rgba[(y * width + x) * 4 + channel] = row[x * channels + channel] }
            }
            swap(&row, &previous)
        }
        self.width = width
        self.height = height
        pixels = rgba
    }

    /// The pixel at (`x`, `y`) as red, green, blue.
    func rgb(_ x: Int, _ y: Int) -> (Int, Int, Int) {
        let at = (y * width + x) * 4
        return (Int(pixels[at]), Int(pixels[at + 1]), Int(pixels[at + 2]))
    }

    /// How many pixels in the rectangle are within `tolerance` of `colour`.
    func count(near colour: (Int, Int, Int), tolerance: Int = 40, in rows: Range<Int>, columns: Range<Int>) -> Int {
        var count = 0
        for y in rows where y < height {
            for x in columns where x < width {
                let (r, g, b) = rgb(x, y)
                if abs(r - colour.0) + abs(g - colour.1) + abs(b - colour.2) <= tolerance { count += 1 }
            }
        }
        return count
    }
}
