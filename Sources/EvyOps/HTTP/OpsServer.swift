import Evy
import Glibc
import EvyHTTP
import Logging

/// A role's HTTP endpoint for operators: `/metrics` (Prometheus text format), `/healthz`, and —
/// on the collector — the dashboard (``Dashboard``). Off unless a role is given `--http ADDRESS`.
///
/// ```swift
/// let server = try OpsServer(address: ListenAddress("127.0.0.1:9100"), metrics: metrics,
///                            beforeScrape: { dispatcher.updateGauges() })
/// spawn { try await server.run() }
/// ```
/// Hub-confined: make it, run it and stop it on the role's hub (so `beforeScrape` and the
/// dashboard read the role's state on its own thread). Requests it does not know get 404; a
/// failing handler gets 500, never a crash.
public final class OpsServer: @unchecked Sendable {
    /// The address as bound (port 0 resolved).
    public let boundAddress: ListenAddress
    private let listener: Socket
    private let server: HTTPServer

    /// Binds `address`; `beforeScrape` runs on the hub before each `/metrics` answer (to set
    /// gauges from the role's state). Throws a `SocketError` if the address cannot be bound.
    public init(
        address: ListenAddress, metrics: PrometheusMetrics?, beforeScrape: @escaping @Sendable () -> Void = {},
        dashboard: Dashboard? = nil
    ) throws {
        listener = try listen(on: address.address)
        boundAddress = listener.localAddress.map { (try? ListenAddress(bound: $0)) ?? address } ?? address
        var configuration = HTTPServer.Configuration()
        configuration.accessLog = false
        configuration.concurrency = 256
        server = HTTPServer(configuration: configuration) { request, _ in
            switch (request.method, request.path) {
            case ("GET", "/metrics"):
                guard let metrics else { return .text("no metrics here\n", status: 404) }
                beforeScrape()
                return HTTPResponse(
                    headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")], body: metrics.exposition())
            case ("GET", "/healthz"):
                return .text("ok\n")
            default:
                if let dashboard, let response = try await dashboard.respond(to: request) { return response }
                return .text("not found\n", status: 404)
            }
        }
    }

    /// Serves until ``stop()``.
    public func run() async throws { try await server.serve(listener) }

    /// Stops serving; requests being answered get `grace` to finish.
    public func stop(grace: Duration = .seconds(1)) async { await server.stop(grace: grace) }
}

extension ListenAddress {
    /// The address a listener reports (its port resolved).
    init(bound: SocketAddress) throws { try self.init(Self.text(bound)) }
}
