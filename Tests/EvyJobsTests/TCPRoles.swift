import Evy
import EvyJobs
import Foundation

/// Settings for roles started one by one in a test, over tcp on loopback: ports picked by the
/// system (`tcp://127.0.0.1:*`), heartbeats every 100 ms, data in `directory`'s `dispatcher` and
/// `collector` folders (made here).
enum TCPRoles {
    static func dispatcher(_ directory: String) throws -> Dispatcher.Configuration {
        try FileManager.default.createDirectory(atPath: directory + "/dispatcher", withIntermediateDirectories: true)
        var settings = Dispatcher.Configuration(dataDirectory: directory + "/dispatcher")
        settings.clientEndpoint = "tcp://127.0.0.1:*"
        settings.workerEndpoint = "tcp://127.0.0.1:*"
        settings.heartbeat = .milliseconds(100)
        return settings
    }

    static func collector(_ directory: String, dispatcher: String) throws -> EvyJobs.Collector.Configuration {
        try FileManager.default.createDirectory(atPath: directory + "/collector", withIntermediateDirectories: true)
        var settings = EvyJobs.Collector.Configuration(dispatcher: dispatcher, dataDirectory: directory + "/collector")
        settings.resultEndpoint = "tcp://127.0.0.1:*"
        settings.clientEndpoint = "tcp://127.0.0.1:*"
        settings.heartbeat = .milliseconds(100)
        return settings
    }

    /// A worker of `dispatcher` and `collector` serving `echo` (the payload back).
    static func echoWorker(dispatcher: String, collector: String) -> Worker {
        var settings = Worker.Configuration(dispatcher: dispatcher, collector: collector)
        settings.heartbeat = .milliseconds(100)
        let worker = Worker(configuration: settings)
        worker.handle("echo") { job in job.payload }
        return worker
    }
}
