// The ZeroMQ guide's pipeline (ventilator, workers, sink) with green ZeroMQ: the ventilator PUSHes
// tasks, workers PULL them, "work" (sleep) and PUSH results to the sink. Workers run as green
// threads of this process and as separate processes, side by side.
//   swift run example-zmq-pipeline [tasks] [green-workers] [process-workers]   (100 4 2)
//   example-zmq-pipeline worker VENTILATOR-ENDPOINT SINK-ENDPOINT               (a process worker)
//   example-zmq-pipeline ventilator SINK-ENDPOINT COUNT    (a ventilator process that pushes COUNT
//                                                            tasks and exits without closing anything:
//                                                            the shared context's clean exit sends them)
import Evy
import EvyZMQ
import Foundation

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

/// Takes tasks (a workload in milliseconds), does them, reports to the sink with its name.
func worker(_ name: String, ventilator: String, sink: String) async throws {
    let tasks = try ZMQSocket(.pull)
    try tasks.connect(ventilator)
    let results = try ZMQSocket(.push)
    try results.connect(sink)
    while true {
        let workload = Int(try await tasks.receiveString()) ?? 0
        try await sleep(for: .milliseconds(Int64(workload)))
        try await results.send(name)
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "worker", arguments.count == 3 {
    try Hub.run { try await worker("process \(getpid())", ventilator: arguments[1], sink: arguments[2]) }
    exit(0)
}
if arguments.first == "ventilator", arguments.count == 3, let count = Int(arguments[2]) {
    try Hub.run {
        let tasks = try ZMQSocket(.push)
        try tasks.connect(arguments[1])
        for number in 0..<count { try await tasks.send("\(number)") }
    }
    exit(0)  // no close, no terminate: ZMQContext.shared flushes at exit
}
let taskCount = arguments.first.flatMap { Int($0) } ?? 100
let greenWorkers = arguments.dropFirst().first.flatMap { Int($0) } ?? 4
let processWorkers = arguments.dropFirst(2).first.flatMap { Int($0) } ?? 2

try Hub.run {
    let ventilator = try ZMQSocket(.push)
    try ventilator.bind("tcp://127.0.0.1:*")
    let sink = try ZMQSocket(.pull)
    try sink.bind("tcp://127.0.0.1:*")
    let (ventilatorEndpoint, sinkEndpoint) = (ventilator.lastEndpoint!, sink.lastEndpoint!)
    for number in 0..<greenWorkers {
        spawnN { try await worker("green \(number)", ventilator: ventilatorEndpoint, sink: sinkEndpoint) }
    }
    let processes = try (0..<processWorkers).map { _ in
        try ChildProcess(
            [CommandLine.arguments[0], "worker", ventilatorEndpoint, sinkEndpoint],
            standardInput: .discard, standardOutput: .inherit, standardError: .inherit)
    }
    // Let the workers connect, so that PUSH spreads the tasks over all of them.
    try await sleep(for: .milliseconds(200))
    let start = ContinuousClock.now
    var expected = 0
    for _ in 0..<taskCount {
        let workload = Int.random(in: 1...20)
        expected += workload
        try await ventilator.send("\(workload)")
    }
    var perWorker: [String: Int] = [:]
    for _ in 0..<taskCount { perWorker[try await sink.receiveString(timeout: .seconds(60)), default: 0] += 1 }
    let elapsed = start.duration(to: .now)
    say("\(taskCount) tasks (\(expected) ms of work) done in \(elapsed)")
    for (name, count) in perWorker.sorted(by: { $0.key < $1.key }) { say("  \(name): \(count)") }
    for process in processes { try process.kill() }
    for process in processes { try await process.wait() }
    ventilator.close(linger: .zero)
    sink.close(linger: .zero)
}
