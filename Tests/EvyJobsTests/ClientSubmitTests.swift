import Evy
import EvyJobs
import EvyTestSupport
import EvyZMQ
import Foundation
import XCTest

/// ``JobClient/submitMany(_:window:)`` against a scripted dispatcher (a ROUTER socket this test
/// drives): no more than `window` submits wait for their answer, ids come back in submission
/// order whatever the order of the answers, and a refusal is thrown.
final class ClientSubmitTests: XCTestCase {
    private static func nextSubmit(_ socket: ZMQSocket, timeout: Duration = .seconds(10)) async throws -> (
        peer: [UInt8], request: UInt64, payload: [UInt8]
    ) {
        var frames = try await socket.receiveMultipart(timeout: timeout)
        let peer = frames.removeFirst()
        guard case .submit(let request, _, _, let payload) = try MessageCodec.decode(frames) else {
            throw JobClientError.noAnswer("a SUBMIT")
        }
        return (peer, request, payload)
    }

    /// A dispatcher played by the test (a ROUTER on an inproc endpoint) and a client of it.
    private static func scriptedDispatcher() throws -> (ZMQSocket, JobClient) {
        let endpoint = inproc()
        let dispatcher = try ZMQSocket(.router)
        try dispatcher.bind(endpoint)
        return (dispatcher, try JobClient(dispatcher: endpoint))
    }

    func testAtMostWindowSubmitsWaitAndIdsComeBackInSubmissionOrder() throws {
        try green(deadline: .seconds(30)) {
            let (dispatcher, client) = try Self.scriptedDispatcher()
            defer { client.close() }
            let jobs = (0..<10).map { (handler: "noop", payload: Array("\($0)".utf8), options: JobOptions()) }
            let submitting = spawn { try await client.submitMany(jobs, window: 4) }
            var waiting: [(peer: [UInt8], request: UInt64, payload: [UInt8])] = []
            for _ in 0..<4 { waiting.append(try await Self.nextSubmit(dispatcher)) }
            do {
                _ = try await Self.nextSubmit(dispatcher, timeout: .milliseconds(200))
                XCTFail("a fifth submit went out before any answer")
            } catch is TimeoutError {}
            // Answer in reverse order, with the job id = 100 + the payload's number.
            var answered = 0
            while answered < jobs.count {
                for submit in waiting.reversed() {
                    let number = UInt64(String(decoding: submit.payload, as: UTF8.self))!
                    try await dispatcher.sendMultipart(
                        [submit.peer]
                            + MessageCodec.encode(
                                .submitted(request: submit.request, job: 100 + number, duplicate: false)))
                    answered += 1
                }
                waiting = []
                while waiting.count < min(4, jobs.count - answered) { waiting.append(try await Self.nextSubmit(dispatcher)) }
            }
            let ids = try await submitting.wait()
            XCTAssertEqual(ids, (0..<10).map { 100 + UInt64($0) }, "ids in submission order")
        }
    }

    func testARefusedSubmitIsThrown() throws {
        try green(deadline: .seconds(30)) {
            let (dispatcher, client) = try Self.scriptedDispatcher()
            defer { client.close() }
            let jobs = (0..<3).map { _ in (handler: "noop", payload: [UInt8](), options: JobOptions()) }
            let submitting = spawn { try await client.submitMany(jobs, window: 10) }
            let submit = try await Self.nextSubmit(dispatcher)
            try await dispatcher.sendMultipart(
                [submit.peer] + MessageCodec.encode(.error(request: submit.request, code: .busy, reason: "full")))
            do {
                _ = try await submitting.wait()
                XCTFail("a refusal must be thrown")
            } catch JobClientError.refused(let code, _) {
                XCTAssertEqual(code, .busy)
            }
        }
    }

    func testClosingTheClientEndsASubmitManyAtOnce() throws {
        try green(deadline: .seconds(10)) {
            let (dispatcher, client) = try Self.scriptedDispatcher()
            client.timeout = .seconds(60)  // longer than the deadline: only close() can end it in time
            let jobs = (0..<3).map { _ in (handler: "noop", payload: [UInt8](), options: JobOptions()) }
            let submitting = spawn { try await client.submitMany(jobs, window: 10) }
            _ = try await Self.nextSubmit(dispatcher)
            client.close()
            do {
                _ = try await submitting.wait()
                XCTFail("a closed client's submits cannot be answered")
            } catch JobClientError.noAnswer {}
        }
    }

    func testABusyDispatcherIsAskedAgainByAJobSet() throws {
        try green(deadline: .seconds(20)) {
            let dispatcherEndpoint = inproc("dispatcher"), collectorEndpoint = inproc("collector")
            let dispatcher = try ZMQSocket(.router), collector = try ZMQSocket(.router)
            try dispatcher.bind(dispatcherEndpoint)
            try collector.bind(collectorEndpoint)
            let client = try JobClient(dispatcher: dispatcherEndpoint, collector: collectorEndpoint)
            defer { client.close() }
            let set = try JobSet<String>(client: client, limit: .max)
            try await set.submit("noop", tag: "only")
            let first = try await Self.nextSubmit(dispatcher)
            try await dispatcher.sendMultipart(
                [first.peer] + MessageCodec.encode(.error(request: first.request, code: .busy, reason: "full")))
            let second = try await Self.nextSubmit(dispatcher)  // the same job, asked again
            try await dispatcher.sendMultipart(
                [second.peer] + MessageCodec.encode(.submitted(request: second.request, job: 7, duplicate: false)))
            var frames = try await collector.receiveMultipart(timeout: .seconds(5))
            let peer = frames.removeFirst()
            guard case .wait(let request, let jobs) = try MessageCodec.decode(frames) else {
                return XCTFail("a WAIT for the job")
            }
            XCTAssertEqual(jobs, [7])
            try await collector.sendMultipart(
                [peer]
                    + MessageCodec.encode(
                        .outcome(request: request, job: 7, attempt: 1, status: .succeeded, handler: "noop", payload: [])))
            let taken = try await set.next()
            XCTAssertEqual(taken?.tag, "only")
            XCTAssertEqual(try taken?.result.get().job, 7, "a busy answer is not the job's end")
        }
    }
}
