extension AsyncSequence {
    /// Every element until the sequence ends, in order; rethrows the sequence's error.
    public func collect() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}

extension Array where Element == UInt8 {
    /// The bytes as UTF-8 text, invalid sequences replaced.
    public var text: String { String(decoding: self, as: UTF8.self) }
}

/// A fresh `inproc://` endpoint name, unique per call (named after the calling function).
public func inproc(_ name: String = #function) -> String {
    "inproc://\(name)-\(UInt32.random(in: 0...UInt32.max))"
}
