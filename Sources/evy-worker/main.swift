// evy-worker: runs jobs leased by the dispatcher with the handlers shipped in workers/.
import ArgumentParser
import Evy
import EvyHandlers
import EvyJobs
import EvyOps
import Foundation
import Glibc

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evy-worker",
        abstract: "Run jobs from the dispatcher and send their results to the collector.",
        discussion: "Environment variables: EVY_DISPATCHER_WORKERS, EVY_RESULT_ENDPOINT, EVY_SLOTS, EVY_HANDLERS, "
            + "EVY_HEARTBEAT_MS, EVY_CURVE_KEY, EVY_DISPATCHER_KEY, EVY_COLLECTOR_KEY. SIGTERM drains (no new jobs, running ones finish within --grace-seconds); "
            + "SIGINT stops at once.")

    @Option(help: "The dispatcher's worker endpoint.")
    var dispatcher = environment("EVY_DISPATCHER_WORKERS", "tcp://127.0.0.1:5556")
    @Option(help: "The collector's result endpoint.")
    var collector = environment("EVY_RESULT_ENDPOINT", "tcp://127.0.0.1:5557")
    @Option(help: "Jobs run at once.")
    var slots = Int(environment("EVY_SLOTS", "100")) ?? 100
    @Option(help: "Handlers to serve, comma-separated (\(StandardHandlers.names.joined(separator: ", "))).")
    var handlers = environment("EVY_HANDLERS", StandardHandlers.names.joined(separator: ","))
    @Option(help: "Heartbeat interval in milliseconds.")
    var heartbeatMs = Int(environment("EVY_HEARTBEAT_MS", "1000")) ?? 1000
    @Option(help: "How long running jobs may take to finish after SIGTERM.")
    var graceSeconds = 30
    @Option(help: "CURVE: this worker's key pair (evy keygen); the dispatcher and collector must allow its .pub.")
    var curveKey = environment("EVY_CURVE_KEY", "")
    @Option(help: "CURVE: the dispatcher's .pub file.")
    var dispatcherKey = environment("EVY_DISPATCHER_KEY", "")
    @Option(help: "CURVE: the collector's .pub file.")
    var collectorKey = environment("EVY_COLLECTOR_KEY", "")

    @OptionGroup(title: "Operating it")
    var operations: OperationsOptions

    @Option(help: "Log lines: text or json (EVY_LOG_FORMAT).")
    var logFormat = environment("EVY_LOG_FORMAT", "text")
    @Option(help: "Least level logged: trace, debug, info, notice, warning, error, critical (EVY_LOG_LEVEL).")
    var logLevel = environment("EVY_LOG_LEVEL", "info")

    func run() throws {
        try RoleLogging.bootstrap(format: logFormat, level: logLevel)
        var configuration = Worker.Configuration(dispatcher: dispatcher, collector: collector)
        configuration.slots = slots
        configuration.heartbeat = .milliseconds(heartbeatMs)
        configuration.keys = try JobKeys.load(key: curveKey, dispatcher: dispatcherKey, collector: collectorKey)
        let metrics = PrometheusMetrics()
        configuration.metrics = metrics.factory
        let settings = configuration
        let names = handlers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let grace = Duration.seconds(graceSeconds)
        let operations = self.operations
        try Hub.run {
            let worker = Worker(configuration: settings)
            try StandardHandlers.register(names, on: worker)
            let drain: RoleInspection.Action = { _ in
                spawnN { await worker.drain(grace: grace) }
                return "draining: no new jobs; running ones get \(grace) to finish, then the worker stops"
            }
            let ops = try operations.start(
                metrics: metrics, beforeScrape: { worker.updateGauges() },
                inspection: RoleInspection(
                    role: "worker", state: { worker.stateJSON() },
                    actions: ["drain": ("stop taking jobs, finish the running ones, then stop", drain)]))
            _ = try Hub.current.addSignalHandler(SIGTERM) { spawnN { await worker.drain(grace: grace) } }
            _ = try Hub.current.addSignalHandler(SIGINT) { worker.stop() }
            print("evy-worker: \(settings.slots) slots, handlers \(names.joined(separator: ","))")
            fflush(nil)
            try await worker.run()
            await ops.stop()
        }
    }
}

func environment(_ name: String, _ fallback: String) -> String { ProcessInfo.processInfo.environment[name] ?? fallback }

WorkerCommand.main()
