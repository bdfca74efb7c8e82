import ArgumentParser
import Foundation

/// The command-line options every role shares for its operator endpoints (`--http`, `--admin`…),
/// each also read from an environment variable. Include with `@OptionGroup`.
public struct OperationsOptions: ParsableArguments, Sendable {
    @Option(help: "Serve /metrics (and the collector's dashboard) at HOST:PORT, e.g. 127.0.0.1:9100 (EVY_HTTP; off by default).")
    public var http = ProcessInfo.processInfo.environment["EVY_HTTP"] ?? ""
    @Option(help: "Open the inspection console (evy inspect) at 127.0.0.1:PORT or unix:PATH (EVY_ADMIN; off by default).")
    public var admin = ProcessInfo.processInfo.environment["EVY_ADMIN"] ?? ""
    @ArgumentParser.Flag(help: "Let the inspection console run actions (drain, detect-blocking); read-only without.")
    public var adminActions = false
    @ArgumentParser.Flag(help: "Let the inspection console listen beyond loopback (it has no authentication).")
    public var adminRemote = false

    public init() {}

    /// Starts what these options ask for on the current hub (see ``RoleOperations``).
    public func start(
        metrics: PrometheusMetrics?, beforeScrape: @escaping @Sendable () -> Void = {}, dashboard: Dashboard? = nil,
        inspection: RoleInspection
    ) throws -> RoleOperations {
        try RoleOperations(
            http: http.isEmpty ? nil : http, metrics: metrics, beforeScrape: beforeScrape,
            dashboard: dashboard, admin: admin.isEmpty ? nil : admin, inspection: inspection,
            adminActions: adminActions, adminRemote: adminRemote)
    }
}
