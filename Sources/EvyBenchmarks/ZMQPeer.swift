import Evy
import EvyZMQ
import Foundation

/// Evy's side of `evy-bench zmq-pushpull` and `zmq-reqrep`, the same roles and output as
/// `Benchmarks/zmq/zmq_peer.c`: `evy-bench --zmq-peer push|pull|req|rep ENDPOINT COUNT SIZE`.
/// pull and rep bind (`tcp://127.0.0.1:*` lets the system pick the port) and print
/// `ready ENDPOINT` with the port resolved; push and req connect.
public enum ZMQPeer {
    /// Runs one role (call from a green thread).
    public static func run(role: String, endpoint: String, count: Int, size: Int) async throws {
        let type: ZMQSocketType =
            switch role {
            case "push": .push
            case "pull": .pull
            case "req": .req
            default: .rep
            }
        let socket = try ZMQSocket(type)
        try socket.setLinger(.seconds(1))
        if let hwm = ProcessInfo.processInfo.environment["EVY_ZMQ_HWM"].flatMap({ Int32($0) }) {
            try socket.setHighWaterMarks(send: hwm, receive: hwm)
        }
        let payload = [UInt8](repeating: 0, count: size)
        // Like the C peer: one buffer, no allocation per message (EVY_ZMQ_COPY=1 measures the
        // allocating [UInt8] API instead).
        let copying = ProcessInfo.processInfo.environment["EVY_ZMQ_COPY"] == "1"
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 256), alignment: 16)
        defer { buffer.deallocate() }
        let outgoing = UnsafeRawBufferPointer(rebasing: buffer[..<size])
        if type == .pull || type == .rep {
            try socket.bind(endpoint)
            FileHandle.standardOutput.write(Data("ready \(socket.lastEndpoint ?? endpoint)\n".utf8))
        } else {
            try socket.connect(endpoint)
        }
        switch type {
        case .push:
            for _ in 0..<count {
                if copying { try await socket.send(payload) } else { try await socket.send(outgoing) }
            }
        case .pull:
            _ = try await socket.receive()
            let start = ContinuousClock.now
            for _ in 1..<count {
                if copying { _ = try await socket.receive() } else { _ = try await socket.receive(into: buffer) }
            }
            let rate = Double(count - 1) / Scenarios.seconds(start.duration(to: .now))
            print("{\"msgs_per_s\": \(rate)}")
        case .rep:
            for _ in 0..<count { try await socket.send(try await socket.receive()) }
        default:
            try await socket.send(payload)
            _ = try await socket.receive()
            let start = ContinuousClock.now
            for _ in 1..<count {
                try await socket.send(payload)
                _ = try await socket.receive()
            }
            let micros = Scenarios.micros(start.duration(to: .now)) / Double(count - 1)
            print("{\"round_trip_us\": \(micros)}")
        }
        socket.close()
        // Like the C peer's zmq_ctx_term: wait until queued messages are sent (linger) before the
        // process exits.
        try await ZMQContext.shared.terminate()
    }

    /// Many green threads sharing one PUSH socket into one PULL socket in this process
    /// (inproc): messages per second.
    public static func sharedSocket(greenThreads: Int, messages: Int) async throws -> Double {
        let pull = try ZMQSocket(.pull)
        let endpoint = "inproc://evy-bench-shared"
        try pull.bind(endpoint)
        let push = try ZMQSocket(.push)
        try push.connect(endpoint)
        let payload = [UInt8](repeating: 0, count: 64)
        let start = ContinuousClock.now
        let perThread = messages / greenThreads
        for _ in 0..<greenThreads { spawnN { for _ in 0..<perThread { try await push.send(payload) } } }
        for _ in 0..<(perThread * greenThreads) { _ = try await pull.receive() }
        let rate = Double(perThread * greenThreads) / Scenarios.seconds(start.duration(to: .now))
        push.close(linger: .zero)
        pull.close(linger: .zero)
        return rate
    }

    /// `pairs` PUSH/PULL socket pairs in one process (inproc), each pair moving `messages`
    /// messages concurrently: total messages per second.
    public static func manySockets(pairs: Int, messages: Int) async throws -> Double {
        EchoServers.raiseDescriptorLimit()
        let context = try ZMQContext(maxSockets: Int32(pairs * 2 + 16))
        let start = ContinuousClock.now
        let pile = GreenPile<Void>(size: pairs)
        for index in 0..<pairs {
            try await pile.spawn {
                let endpoint = "inproc://evy-bench-many-\(index)"
                let pull = try ZMQSocket(.pull, context: context)
                try pull.bind(endpoint)
                let push = try ZMQSocket(.push, context: context)
                try push.connect(endpoint)
                spawnN { for _ in 0..<messages { try await push.send([1, 2, 3]) } }
                for _ in 0..<messages { _ = try await pull.receive() }
                push.close(linger: .zero)
                pull.close(linger: .zero)
            }
        }
        for try await _ in pile {}
        return Double(pairs * messages) / Scenarios.seconds(start.duration(to: .now))
    }
}
