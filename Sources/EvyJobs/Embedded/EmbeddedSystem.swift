import Evy
import Foundation

/// A whole job system in one process over `inproc://`: a dispatcher, a collector and workers
/// on the current hub, their data under one directory. For tests, examples and the embedded
/// modes of the pipelines; the roles behave exactly as they do in their own processes.
///
/// ```swift
/// let system = try EmbeddedSystem(directory: dir, workers: 2) { worker in
///     worker.handle("echo") { job in job.payload }
/// }
/// let client = try system.client()
/// let id = try await client.submit("echo", payload: Array("hi".utf8))
/// ```
/// Hub-confined. ``stop()`` ends every role; the data stays for the next start.
public final class EmbeddedSystem: @unchecked Sendable {
    public let dispatcher: Dispatcher
    public let collector: Collector
    public private(set) var workers: [Worker] = []
    private var threads: [GreenThread<Void>] = []
    private let configureWorker: (Worker) -> Void
    private let workerTemplate: Worker.Configuration

    /// Starts the roles; `configure` registers the handlers of each worker. `tune` may change the
    /// dispatcher's and collector's settings (heartbeats, retries) before they start.
    public init(
        directory: String, workers count: Int = 2, slots: Int = 100, heartbeat: Duration = .seconds(1),
        tune: (inout Dispatcher.Configuration, inout Collector.Configuration) -> Void = { _, _ in },
        configure: @escaping (Worker) -> Void
    ) throws {
        let name = "evy-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var dispatcherSettings = Dispatcher.Configuration(dataDirectory: directory + "/dispatcher")
        dispatcherSettings.clientEndpoint = "inproc://\(name)-clients"
        dispatcherSettings.workerEndpoint = "inproc://\(name)-workers"
        dispatcherSettings.heartbeat = heartbeat
        var collectorSettings = Collector.Configuration(
            dispatcher: dispatcherSettings.workerEndpoint,
            dataDirectory: directory + "/collector")
        collectorSettings.resultEndpoint = "inproc://\(name)-results"
        collectorSettings.clientEndpoint = "inproc://\(name)-results-clients"
        collectorSettings.heartbeat = heartbeat
        tune(&dispatcherSettings, &collectorSettings)
        for path in [dispatcherSettings.dataDirectory, collectorSettings.dataDirectory] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        dispatcher = try Dispatcher(configuration: dispatcherSettings)
        collector = try Collector(configuration: collectorSettings)
        var template = Worker.Configuration(
            dispatcher: dispatcherSettings.workerEndpoint,
            collector: collectorSettings.resultEndpoint)
        template.slots = slots
        template.heartbeat = heartbeat
        workerTemplate = template
        configureWorker = configure
        threads.append(spawn { [dispatcher] in try? await dispatcher.run() })
        threads.append(spawn { [collector] in try? await collector.run() })
        for _ in 0..<count { addWorker() }
    }

    /// Starts one more worker, its settings changed by `tune` (metrics, slots…); returns it.
    @discardableResult
    public func addWorker(tune: (inout Worker.Configuration) -> Void = { _ in }) -> Worker {
        var settings = workerTemplate
        settings.name = "embedded-\(workers.count + 1)"
        tune(&settings)
        let worker = Worker(configuration: settings)
        configureWorker(worker)
        workers.append(worker)
        threads.append(spawn { try? await worker.run() })
        return worker
    }

    /// A client connected to this system's dispatcher and collector.
    public func client() throws -> JobClient {
        try JobClient(dispatcher: dispatcher.boundClientEndpoint, collector: collector.boundClientEndpoint)
    }

    /// Stops every role and waits for them to end.
    public func stop() async {
        for worker in workers { worker.stop() }
        collector.stop()
        dispatcher.stop()
        for thread in threads { _ = try? await thread.wait() }
    }
}
