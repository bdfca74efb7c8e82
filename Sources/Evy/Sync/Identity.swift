/// Who is running: the green thread (shared with its child tasks) or, outside Evy's green threads,
/// the Swift task. Used for lock ownership.
enum GreenIdentity: Hashable {
    case greenThread(ObjectIdentifier)
    case task(Int)

    static var current: GreenIdentity {
        if let context = GreenContext.current { return .greenThread(ObjectIdentifier(context)) }
        return .task(withUnsafeCurrentTask { $0?.hashValue ?? 0 })
    }
}
