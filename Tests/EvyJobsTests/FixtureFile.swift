import Foundation

/// The golden files' format (Fixtures/README.txt): a u32 big-endian frame count, then per frame
/// a u32 big-endian length and the frame's bytes.
enum FixtureFile {
    static func bytes(of frames: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        func u32(_ value: Int) { withUnsafeBytes(of: UInt32(value).bigEndian) { bytes += $0 } }
        u32(frames.count)
        for frame in frames {
            u32(frame.count)
            bytes += frame
        }
        return bytes
    }

    /// The frames of a file's bytes; nil if they do not follow the format.
    static func frames(of bytes: [UInt8]) -> [[UInt8]]? {
        var index = 0
        func u32() -> Int? {
            guard index + 4 <= bytes.count else { return nil }
            defer { index += 4 }
            return bytes[index..<index + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        guard let count = u32() else { return nil }
        var frames: [[UInt8]] = []
        for _ in 0..<count {
            guard let length = u32(), index + length <= bytes.count else { return nil }
            frames.append(Array(bytes[index..<index + length]))
            index += length
        }
        return index == bytes.count ? frames : nil
    }

    /// The fixture of `name` in the test bundle.
    static func load(_ name: String) throws -> [UInt8] {
        guard let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        return Array(try Data(contentsOf: directory.appendingPathComponent("\(name).bin")))
    }

    /// Writes the fixture of `name` into the source tree (EVY_WRITE_FIXTURES=1).
    static func write(_ bytes: [UInt8], name: String, sourceFile: String = #filePath) throws {
        let directory = URL(fileURLWithPath: sourceFile).deletingLastPathComponent().appendingPathComponent("Fixtures")
        try Data(bytes).write(to: directory.appendingPathComponent("\(name).bin"))
    }
}
