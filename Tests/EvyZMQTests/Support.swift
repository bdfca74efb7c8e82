import Evy
import Foundation
import XCTest

/// Runs `body` as the main green thread of a hub, failing after `deadline` instead of hanging.
func green<T: Sendable>(deadline: Duration = .seconds(30), _ body: @escaping @Sendable () async throws -> T) throws -> T {
    try Hub.run { try await withTimeout(deadline, label: "test deadline") { try await body() } }
}

/// A value shared by the green threads of one hub.
final class Box<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// A fresh inproc endpoint name.
func inproc(_ name: String = #function) -> String { "inproc://\(name)-\(UInt32.random(in: 0...UInt32.max))" }
