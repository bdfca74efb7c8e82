// evy-collector: records every job's result once and serves the results to clients.
import ArgumentParser
import Evy
import EvyJobs
import EvyOps
import Foundation
import Glibc

struct CollectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evy-collector",
        abstract: "Record each job's result once, tell the dispatcher, and serve results to clients.",
        discussion: "Environment variables: EVY_RESULT_ENDPOINT, EVY_COLLECTOR_ENDPOINT, EVY_DISPATCHER_WORKERS, "
            + "EVY_DATA_DIR, EVY_SYNCHRONOUS, EVY_CURVE_KEY, EVY_CURVE_ALLOW, EVY_DISPATCHER_KEY. SIGTERM or SIGINT stops it.")

    @Option(help: "Where workers send results.")
    var resultEndpoint = environment("EVY_RESULT_ENDPOINT", "tcp://*:5557")
    @Option(help: "Where clients wait for outcomes and read results.")
    var clientEndpoint = environment("EVY_COLLECTOR_ENDPOINT", "tcp://*:5558")
    @Option(help: "The dispatcher's worker endpoint.")
    var dispatcher = environment("EVY_DISPATCHER_WORKERS", "tcp://127.0.0.1:5556")
    @Option(help: "The store's directory.")
    var dataDir = environment("EVY_DATA_DIR", "evy-data/collector")
    @Option(help: "Store commits: normal or full.")
    var synchronous = environment("EVY_SYNCHRONOUS", "normal")
    @Option(help: "CURVE: this collector's key pair (evy keygen); with it every link is encrypted.")
    var curveKey = environment("EVY_CURVE_KEY", "")
    @Option(help: "CURVE: a directory of the .pub files of the workers and clients allowed in.")
    var curveAllow = environment("EVY_CURVE_ALLOW", "")
    @Option(help: "CURVE: the dispatcher's .pub file.")
    var dispatcherKey = environment("EVY_DISPATCHER_KEY", "")

    @Option(help: "The dispatcher's client endpoint, which the dashboard reads (status, dead letters, cancel).")
    var dispatcherClients = environment("EVY_DISPATCHER_CLIENTS", "tcp://127.0.0.1:5555")
    @Option(help: "A feed scraper's state file (evy feeds --state), for the dashboard's failing feeds.")
    var feedsState = environment("EVY_FEEDS_STATE", "")

    @ArgumentParser.Flag(help: """
        Let the dashboard cancel jobs and retry or purge dead letters even when --http listens beyond loopback \
        (EVY_DASHBOARD_ACTIONS=1; on loopback they are always on). It has no login: put an authenticating proxy in front.
        """)
    var dashboardActions = environment("EVY_DASHBOARD_ACTIONS", "") == "1"

    @OptionGroup(title: "Operating it (the dashboard is served at --http)")
    var operations: OperationsOptions

    @Option(help: "Log lines: text or json (EVY_LOG_FORMAT).")
    var logFormat = environment("EVY_LOG_FORMAT", "text")
    @Option(help: "Least level logged: trace, debug, info, notice, warning, error, critical (EVY_LOG_LEVEL).")
    var logLevel = environment("EVY_LOG_LEVEL", "info")

    func run() throws {
        try RoleLogging.bootstrap(format: logFormat, level: logLevel)
        var configuration = Collector.Configuration(dispatcher: dispatcher, dataDirectory: dataDir)
        configuration.resultEndpoint = resultEndpoint
        configuration.clientEndpoint = clientEndpoint
        configuration.synchronous = synchronous == "full" ? .full : .normal
        configuration.keys = try JobKeys.load(key: curveKey, allow: curveAllow, dispatcher: dispatcherKey)
        let metrics = PrometheusMetrics()
        configuration.metrics = metrics.factory
        let settings = configuration
        let operations = self.operations
        var board = Dashboard.Configuration(dispatcher: dispatcherClients)
        board.keys = settings.keys
        board.feedsState = feedsState.isEmpty ? nil : feedsState
        board.allowActions = dashboardActions || ((try? ListenAddress(operations.http).isLocal) ?? false)
        let boardSettings = board
        try Hub.run {
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
            let collector = try Collector(configuration: settings)
            // The dashboard lives on the HTTP endpoint: without --http nothing samples the dispatcher.
            let dashboard = operations.http.isEmpty ? nil : Dashboard(collector: collector, configuration: boardSettings)
            dashboard?.start()
            let ops = try operations.start(
                metrics: metrics, dashboard: dashboard,
                inspection: RoleInspection(role: "collector", state: { collector.stateJSON() }))
            for signal in [SIGTERM, SIGINT] { _ = try Hub.current.addSignalHandler(signal) { collector.stop() } }
            print("evy-collector: results \(collector.boundResultEndpoint), clients \(collector.boundClientEndpoint)")
            fflush(nil)
            try await collector.run()
            await ops.stop()
            dashboard?.close()
        }
    }
}

func environment(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }

CollectorCommand.main()
