/// A mutable value shared by the green threads of one hub. Hub-confined (hence
/// `@unchecked Sendable`): touch it from that hub's green threads only.
public final class Box<T>: @unchecked Sendable {
    /// The value.
    public var value: T

    /// A box holding `value`.
    public init(_ value: T) { self.value = value }
}
