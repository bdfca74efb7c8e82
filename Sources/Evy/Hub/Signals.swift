import CLibUV

/// The libuv signal handle of one signal number and the green handlers registered for it.
final class SignalWatcher {
    let signal: UnsafeMutablePointer<uv_signal_t>
    var handlers: [Handle] = []

    init(signal: UnsafeMutablePointer<uv_signal_t>) { self.signal = signal }
}

extension Hub {
    /// Calls `callback` on the hub each time the process receives `signum` (SIGINT, SIGTERM,
    /// SIGHUP, ...). Several handlers may be added for one signal; cancelling the returned handle
    /// removes only that one. A signal handler does not keep ``run()`` from returning.
    @discardableResult
    public func addSignalHandler(_ signum: Int32, _ callback: @escaping () -> Void) throws -> Handle {
        assertOnHubThread("Hub.addSignalHandler")
        let watcher: SignalWatcher
        if let existing = signalWatchers[signum] {
            watcher = existing
        } else {
            let signal = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
            uv_signal_init(loop, signal)
            signal.pointee.data = Unmanaged.passUnretained(self).toOpaque()
            let status = uv_signal_start(
                signal,
                { signal, signum in
                    Hub.from(signal!.pointee.data).signalFired(signum)
                }, signum)
            guard status == 0 else {
                closeSignal(signal)
                throw WatchError.cannotHandleSignal(signum, UVError(status))
            }
            signal.withMemoryRebound(to: uv_handle_t.self, capacity: 1) { uv_unref($0) }
            watcher = SignalWatcher(signal: signal)
            signalWatchers[signum] = watcher
        }
        var handleRef: Handle?
        let handle = Handle(
            hub: self,
            onCancel: { [unowned self] in
                guard let watcher = self.signalWatchers[signum] else { return }
                watcher.handlers.removeAll { $0 === handleRef }
                handleRef = nil
                if watcher.handlers.isEmpty { self.removeSignalHandlers(signum) }
            }, callback)
        handleRef = handle
        watcher.handlers.append(handle)
        return handle
    }

    /// Removes every handler of `signum`; the signal gets its default disposition back.
    public func removeSignalHandlers(_ signum: Int32) {
        assertOnHubThread("Hub.removeSignalHandlers")
        guard let watcher = signalWatchers.removeValue(forKey: signum) else { return }
        let handlers = watcher.handlers
        watcher.handlers = []
        for handler in handlers { handler.cancel() }
        uv_signal_stop(watcher.signal)
        closeSignal(watcher.signal)
    }

    private func closeSignal(_ signal: UnsafeMutablePointer<uv_signal_t>) {
        signal.withMemoryRebound(to: uv_handle_t.self, capacity: 1) { handle in
            uv_close(handle) { handle in
                handle!.withMemoryRebound(to: uv_signal_t.self, capacity: 1) { $0.deallocate() }
            }
        }
    }

    private func signalFired(_ signum: Int32) {
        guard let watcher = signalWatchers[signum] else { return }
        for handler in watcher.handlers { handler.fireRepeating() }
    }
}
