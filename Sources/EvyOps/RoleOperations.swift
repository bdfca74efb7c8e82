import Evy
import Logging

/// A role's operator endpoints, started together and stopped together: the HTTP endpoint
/// (``OpsServer``: `/metrics`, and the dashboard on the collector) and the inspection console
/// (``InspectionEndpoint``). Both are off unless given an address.
///
/// Hub-confined: start it on the role's hub, next to the role; ``stop()`` before the role returns.
public final class RoleOperations: @unchecked Sendable {
    /// The HTTP endpoint, if one was asked for.
    public let http: OpsServer?
    /// The inspection endpoint, if one was asked for.
    public let inspection: InspectionEndpoint?
    private var threads: [GreenThread<Void>] = []
    private let logger = Logger(label: "evy.ops")

    /// Binds what is asked for and serves it in green threads. Throws ``OpsError`` for a bad or
    /// non-local address, a `SocketError` for one that cannot be bound.
    public init(
        http: String?, metrics: PrometheusMetrics?, beforeScrape: @escaping @Sendable () -> Void = {},
        dashboard: Dashboard? = nil, admin: String?, inspection role: RoleInspection, adminActions: Bool = false,
        adminRemote: Bool = false
    ) throws {
        self.http = try http.map {
            try OpsServer(address: ListenAddress($0), metrics: metrics, beforeScrape: beforeScrape, dashboard: dashboard)
        }
        self.inspection = try admin.map {
            try InspectionEndpoint(address: ListenAddress($0), role: role, allowActions: adminActions, allowRemote: adminRemote)
        }
        if let server = self.http {
            let page = dashboard == nil ? "" : ", dashboard at http://\(server.boundAddress)/"
            logger.info("metrics at http://\(server.boundAddress)/metrics\(page)")
            threads.append(spawn(name: "ops http") { try? await server.run() })
        }
        if let endpoint = self.inspection {
            logger.info("inspection console at \(endpoint.boundAddress) (evy inspect \(endpoint.boundAddress))")
            threads.append(spawn(name: "ops inspect") { try? await endpoint.run() })
        }
    }

    /// Stops both endpoints.
    public func stop() async {
        inspection?.stop()
        await http?.stop()
        for thread in threads { thread.cancel() }
    }
}
