import Glibc

/// Starts a thread of the journal's own (the commit thread, the checkpointer) running `body`;
/// returns it for `pthread_join`. Traps if the system cannot start a thread (nothing would be
/// written otherwise).
func startJournalThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let start = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
    var thread = pthread_t()
    let code = pthread_create(
        &thread, nil,
        { context in
            Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, start)
    precondition(code == 0, "cannot start a journal thread (\(code))")
    return thread
}

/// What a new thread runs, handed over through pthread's context pointer.
private final class ThreadStart: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
