/// Errors from registering readers, writers and signal handlers.
public enum WatchError: Error, CustomStringConvertible, Equatable {
    /// libuv refused to watch the descriptor (closed, or not pollable such as a regular file).
    case cannotWatch(fd: Int32, UVError)
    /// libuv refused to install the signal handler.
    case cannotHandleSignal(Int32, UVError)
    /// Another green thread already waits for the same readiness of this descriptor.
    case alreadyWaiting(fd: Int32)
    /// The descriptor was closed (``Hub/notifyClose(_:)``) while a green thread waited on it.
    case descriptorClosed(fd: Int32)

    /// A one-line account of the failure, naming the descriptor or signal.
    public var description: String {
        switch self {
        case .cannotWatch(let fd, let error): "cannot watch file descriptor \(fd): \(error)"
        case .cannotHandleSignal(let signal, let error): "cannot handle signal \(signal): \(error)"
        case .alreadyWaiting(let fd): "another green thread already waits on file descriptor \(fd)"
        case .descriptorClosed(let fd): "file descriptor \(fd) was closed while waiting on it"
        }
    }
}
