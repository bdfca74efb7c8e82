import Foundation

/// The dispatcher's secret for lease tokens: JOB carries `token(for:)` of its lease, the worker
/// sends it back with the RESULT, and the collector (given the key in its WELCOME) records only
/// results whose token matches — a peer cannot have a result recorded for a job it was not given.
/// The token is SipHash-2-4 of the lease (job, attempt) under this 128-bit key. A value;
/// `Sendable`. Kept in the dispatcher's data directory, so a restart does not void the tokens of
/// jobs still running.
public struct LeaseKey: Sendable, Equatable {
    /// The key's 16 bytes.
    public let bytes: [UInt8]

    /// A key of 16 `bytes`; nil for any other count.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// A new random key.
    public static func random() -> LeaseKey {
        var generator = SystemRandomNumberGenerator()
        return LeaseKey(bytes: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })!
    }

    /// The key in `directory`/lease.key, made (readable by its owner only) if there is none.
    public static func stored(in directory: String) throws -> LeaseKey {
        let path = directory + "/lease.key"
        if let data = FileManager.default.contents(atPath: path), let key = LeaseKey(bytes: Array(data)) { return key }
        let key = random()
        guard FileManager.default.createFile(atPath: path, contents: Data(key.bytes), attributes: [.posixPermissions: 0o600])
        else { throw JournalError.io("\(path): cannot be written") }
        return key
    }

    /// The key in the file at `path`, if there is one of 16 bytes.
    public static func load(from path: String) -> LeaseKey? {
        FileManager.default.contents(atPath: path).flatMap { LeaseKey(bytes: Array($0)) }
    }

    /// Writes the key to `path`, readable by its owner only.
    public func save(to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
    }

    /// The token of `lease`: never 0 (0 is "no token" on the wire).
    public func token(for lease: Lease) -> UInt64 {
        var message = [UInt8](repeating: 0, count: 12)
        for index in 0..<8 { message[index] = UInt8(truncatingIfNeeded: lease.job >> (8 * index)) }
        for index in 0..<4 { message[8 + index] = UInt8(truncatingIfNeeded: lease.attempt >> (8 * index)) }
        return max(1, Self.sipHash24(message, key: bytes))
    }

    /// SipHash-2-4 (Aumasson and Bernstein) of `message` under a 16-byte `key`.
    static func sipHash24(_ message: [UInt8], key: [UInt8]) -> UInt64 {
        func word(_ bytes: ArraySlice<UInt8>) -> UInt64 {
            bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
        let (k0, k1) = (word(key[0..<8]), word(key[8..<16]))
        var (v0, v1, v2, v3) = (
            k0 ^ 0x736f_6d65_7073_6575, k1 ^ 0x646f_7261_6e64_6f6d, k0 ^ 0x6c79_6765_6e65_7261, k1 ^ 0x7465_6462_7974_6573
        )
        func round() {
            v0 &+= v1; v1 = v1.rotatedLeft(13); v1 ^= v0; v0 = v0.rotatedLeft(32)
            v2 &+= v3; v3 = v3.rotatedLeft(16); v3 ^= v2
            v0 &+= v3; v3 = v3.rotatedLeft(21); v3 ^= v0
            v2 &+= v1; v1 = v1.rotatedLeft(17); v1 ^= v2; v2 = v2.rotatedLeft(32)
        }
        let whole = message.count / 8 * 8
        for start in stride(from: 0, to: whole, by: 8) {
            let m = word(message[start..<start + 8])
            v3 ^= m
            round(); round()
            v0 ^= m
        }
        let last = word(message[whole...]) | UInt64(message.count & 0xff) << 56
        v3 ^= last
        round(); round()
        v0 ^= last
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}

extension UInt64 {
    fileprivate func rotatedLeft(_ count: UInt64) -> UInt64 { self << count | self >> (64 - count) }
}
