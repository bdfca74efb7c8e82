// evy-dispatcher: accepts jobs from clients, journals them, leases them to workers.
import ArgumentParser
import Evy
import EvyJobs
import EvyOps
import Foundation
import Glibc

struct DispatcherCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evy-dispatcher",
        abstract: "Accept jobs from clients, keep them in a journal, and hand them to workers.",
        discussion: "Every option also reads an environment variable (EVY_CLIENT_ENDPOINT, EVY_WORKER_ENDPOINT, "
            + "EVY_DATA_DIR, EVY_HEARTBEAT_MS, EVY_MAX_RETRIES, EVY_SYNCHRONOUS, EVY_CURVE_KEY, EVY_CURVE_ALLOW). SIGTERM or SIGINT stops it; "
            + "everything accepted stays in the journal.")

    @Option(help: "Where clients connect.")
    var clientEndpoint = environment("EVY_CLIENT_ENDPOINT", "tcp://*:5555")
    @Option(help: "Where workers and the collector connect.")
    var workerEndpoint = environment("EVY_WORKER_ENDPOINT", "tcp://*:5556")
    @Option(help: "The journal's directory.")
    var dataDir = environment("EVY_DATA_DIR", "evy-data/dispatcher")
    @Option(help: "Heartbeat interval in milliseconds.")
    var heartbeatMs = Int(environment("EVY_HEARTBEAT_MS", "1000")) ?? 1000
    @Option(help: "Retries of a failing job unless its submitter says otherwise.")
    var maxRetries = UInt8(environment("EVY_MAX_RETRIES", "3")) ?? 3
    @Option(help: "Journal commits: normal (WAL, no fsync per commit) or full.")
    var synchronous = environment("EVY_SYNCHRONOUS", "normal")
    @Option(help: "CURVE: this dispatcher's key pair (evy keygen); with it every link is encrypted.")
    var curveKey = environment("EVY_CURVE_KEY", "")
    @Option(help: "CURVE: a directory of the .pub files of the clients, workers and collector allowed in.")
    var curveAllow = environment("EVY_CURVE_ALLOW", "")

    @OptionGroup(title: "Operating it")
    var operations: OperationsOptions

    @Option(help: "Log lines: text or json (EVY_LOG_FORMAT).")
    var logFormat = environment("EVY_LOG_FORMAT", "text")
    @Option(help: "Least level logged: trace, debug, info, notice, warning, error, critical (EVY_LOG_LEVEL).")
    var logLevel = environment("EVY_LOG_LEVEL", "info")

    func run() throws {
        try RoleLogging.bootstrap(format: logFormat, level: logLevel)
        var configuration = Dispatcher.Configuration(dataDirectory: dataDir)
        configuration.clientEndpoint = clientEndpoint
        configuration.workerEndpoint = workerEndpoint
        configuration.heartbeat = .milliseconds(heartbeatMs)
        configuration.defaultMaxRetries = maxRetries
        configuration.synchronous = synchronous == "full" ? .full : .normal
        configuration.keys = try JobKeys.load(key: curveKey, allow: curveAllow)
        let metrics = PrometheusMetrics()
        configuration.metrics = metrics.factory
        let settings = configuration
        let operations = self.operations
        try Hub.run {
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
            let dispatcher = try Dispatcher(configuration: settings)
            let ops = try operations.start(
                metrics: metrics, beforeScrape: { dispatcher.updateGauges() },
                inspection: RoleInspection(role: "dispatcher", state: { dispatcher.stateJSON() }))
            for signal in [SIGTERM, SIGINT] { _ = try Hub.current.addSignalHandler(signal) { dispatcher.stop() } }
            print(
                "evy-dispatcher: clients \(dispatcher.boundClientEndpoint), workers \(dispatcher.boundWorkerEndpoint)")
            fflush(nil)
            try await dispatcher.run()
            await ops.stop()
        }
    }
}

func environment(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }

DispatcherCommand.main()
