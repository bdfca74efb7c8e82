/// Storage with one value per green thread (Eventlet's `corolocal.local`, Evergreen's task local
/// storage): each green thread sees only what it stored itself; a new green thread starts empty.
///
/// ```swift
/// let requestID = GreenLocal<String>()
/// spawn { requestID.value = "a"; try await sleep(for: .zero); assert(requestID.value == "a") }
/// spawn { requestID.value = "b" }
/// ```
/// A ``withTimeout(_:label:_:)`` body shares its green thread's storage; child tasks you create
/// yourself (task groups, `async let`) are not green threads and have none. For values bound to a
/// scope rather than a thread, Swift's `@TaskLocal` is the tool. Using it outside a green thread
/// started by Evy is a programming error and traps.
public final class GreenLocal<Value>: @unchecked Sendable {
    /// Creates an empty local.
    public init() {}

    private var context: GreenContext {
        guard let context = GreenContext.current else {
            preconditionFailure(
                "GreenLocal is used outside a green thread started by Evy (spawn, spawnN, a pool, Hub.run)")
        }
        return context
    }

    /// The current green thread's value, or nil if it stored none. Setting nil removes it.
    public var value: Value? {
        get { context.locals[ObjectIdentifier(self)] as? Value }
        set { context.locals[ObjectIdentifier(self)] = newValue }
    }
}
