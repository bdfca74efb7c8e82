import CZeroMQ
import Evy

/// A green ZeroMQ proxy (`zmq_proxy_steerable`): forwards every message from `frontend` to
/// `backend` and back, copying each to `capture` if given, until stopped. It runs as two green
/// threads, so the hub stays free.
///
/// ```swift
/// let proxy = ZMQProxy(frontend: router, backend: dealer)   // a ROUTER/DEALER broker
/// proxy.start()
/// ...
/// proxy.pause(); proxy.resume(); await proxy.stop()
/// ```
/// Hub-confined.
public final class ZMQProxy: @unchecked Sendable {
    private let frontend: ZMQSocket
    private let backend: ZMQSocket
    private let capture: ZMQSocket?
    private var forwarders: [GreenThread<Void>] = []
    private let running = Flag()
    /// The first error of either direction.
    private let failure = Event<Void>()
    /// Messages forwarded, both directions.
    public private(set) var forwarded = 0

    /// A proxy between `frontend` and `backend`, copying every message to `capture`.
    public init(frontend: ZMQSocket, backend: ZMQSocket, capture: ZMQSocket? = nil) {
        self.frontend = frontend
        self.backend = backend
        self.capture = capture
        running.set()
    }

    /// Starts forwarding.
    public func start() {
        guard forwarders.isEmpty else { return }
        forwarders = [
            spawn(name: "proxy frontend→backend") { [self] in
                try await forwardReportingErrors(from: frontend, to: backend)
            },
            spawn(name: "proxy backend→frontend") { [self] in
                try await forwardReportingErrors(from: backend, to: frontend)
            },
        ]
    }

    private func forwardReportingErrors(from source: ZMQSocket, to destination: ZMQSocket) async throws {
        do {
            try await forward(from: source, to: destination)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            try? failure.send(error: error)
            throw error
        }
    }

    private func forward(from source: ZMQSocket, to destination: ZMQSocket) async throws {
        while true {
            try await running.wait()
            let message = try await source.receiveMultipart()
            try await running.wait()  // a pause while a message was in flight holds it
            if let capture { try? await capture.sendMultipart(message, timeout: .zero) }
            try await destination.sendMultipart(message)
            forwarded += 1
        }
    }

    /// Holds messages until ``resume()`` (`PAUSE`).
    public func pause() { running.clear() }

    /// Forwards again (`RESUME`).
    public func resume() { running.set() }

    /// Stops forwarding and waits for the forwarders to end (`TERMINATE`). The sockets stay open.
    public func stop() async {
        for forwarder in forwarders { await forwarder.kill() }
        forwarders = []
    }

    /// Runs until a socket fails: starts the proxy and waits; the first error of either direction
    /// stops both and is thrown. Killing the green thread that runs it stops the proxy too.
    public func run() async throws {
        start()
        do {
            try await failure.wait()
        } catch {
            await stop()
            throw error
        }
    }
}
