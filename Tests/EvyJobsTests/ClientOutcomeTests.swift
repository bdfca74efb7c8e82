import Evy
import EvyJobs
import EvyTestSupport
import EvyZMQ
import Foundation
import XCTest

/// How ``JobClient/outcomes(of:progress:)`` talks to a collector, against a scripted one (a
/// ROUTER socket this test drives): long lists split to fit the header limit, a refusal ends the
/// stream with an error instead of a hang, and a collector that forgot the question is asked again.
final class ClientOutcomeTests: XCTestCase {
    /// A collector played by the test: a ROUTER socket on an inproc endpoint.
    private struct ScriptedCollector {
        let socket: ZMQSocket
        let endpoint: String

        init() throws {
            endpoint = inproc()
            socket = try ZMQSocket(.router)
            try socket.bind(endpoint)
        }

        /// The next WAIT: the client's routing id, the request and the jobs.
        func nextWait() async throws -> (peer: [UInt8], request: UInt64, jobs: [UInt64]) {
            var frames = try await socket.receiveMultipart(timeout: .seconds(10))
            let peer = frames.removeFirst()
            guard case .wait(let request, let jobs) = try MessageCodec.decode(frames) else {
                throw JobClientError.noAnswer("a WAIT")
            }
            return (peer, request, jobs)
        }

        func send(_ message: Message, to peer: [UInt8]) async throws {
            try await socket.sendMultipart([peer] + MessageCodec.encode(message))
        }

        func outcome(_ job: UInt64, request: UInt64, to peer: [UInt8]) async throws {
            try await send(
                .outcome(
                    request: request, job: job, attempt: 1, status: .succeeded, handler: "noop",
                    payload: Array("\(job)".utf8)), to: peer)
        }
    }

    func testAWaitForManyJobsIsSplitIntoMessagesTheCollectorAccepts() throws {
        try green(deadline: .seconds(30)) {
            let collector = try ScriptedCollector()
            let client = try JobClient(dispatcher: inproc(), collector: collector.endpoint)
            defer { client.close() }
            let jobs = (1...UInt64(10_000)).map { $0 }
            let outcomes = spawn { try await client.outcomes(of: jobs).collect() }
            var asked: [UInt64] = []
            while asked.count < jobs.count {
                let (peer, request, chunk) = try await collector.nextWait()
                XCTAssertLessThanOrEqual(chunk.count, MessageCodec.maxListCount)
                // Each WAIT must decode on the collector side: a header within the limit.
                XCTAssertLessThanOrEqual(
                    MessageCodec.encode(.wait(request: request, jobs: chunk))[2].count, MessageCodec.maxHeaderBytes)
                asked += chunk
                for job in chunk { try await collector.outcome(job, request: request, to: peer) }
            }
            XCTAssertEqual(Set(asked), Set(jobs), "every job is asked for")
            let received = try await outcomes.wait()
            XCTAssertEqual(received.count, jobs.count, "every outcome arrives once")
            XCTAssertEqual(Set(received.map(\.job)), Set(jobs))
        }
    }

    func testARefusedWaitEndsTheStreamWithTheCollectorsError() throws {
        try green(deadline: .seconds(30)) {
            let collector = try ScriptedCollector()
            let client = try JobClient(dispatcher: inproc(), collector: collector.endpoint)
            defer { client.close() }
            let outcomes = spawn { try await client.outcomes(of: [1, 2]).collect() }
            let (peer, request, _) = try await collector.nextWait()
            try await collector.send(.error(request: request, code: .tooLarge, reason: "header too big"), to: peer)
            do {
                _ = try await outcomes.wait()
                XCTFail("a refused question must not look like success")
            } catch JobClientError.refused(let code, _) {
                XCTAssertEqual(code, .tooLarge)
            }
        }
    }

    func testACollectorThatForgotTheQuestionIsAskedAgainForWhatIsLeft() throws {
        try green(deadline: .seconds(30)) {
            let collector = try ScriptedCollector()
            let client = try JobClient(dispatcher: inproc(), collector: collector.endpoint)
            client.outcomeRefresh = .milliseconds(100)
            defer { client.close() }
            let outcomes = spawn { try await client.outcomes(of: [1, 2, 3]).collect() }
            let first = try await collector.nextWait()
            XCTAssertEqual(Set(first.jobs), [1, 2, 3])
            try await collector.outcome(2, request: first.request, to: first.peer)
            // The collector restarts and forgets the question: the client asks again for 1 and 3.
            let second = try await collector.nextWait()
            XCTAssertEqual(Set(second.jobs), [1, 3], "only the jobs still to come")
            for job: UInt64 in [1, 2, 3] { try await collector.outcome(job, request: second.request, to: second.peer) }
            let received = try await outcomes.wait()
            XCTAssertEqual(received.map(\.job).sorted(), [1, 2, 3], "each outcome once, the repeated one dropped")
        }
    }

    func testALongStreamAsksAboutAtMostItsWindowAndMoreAsOutcomesCome() throws {
        try green(deadline: .seconds(30)) {
            let collector = try ScriptedCollector()
            let client = try JobClient(dispatcher: inproc(), collector: collector.endpoint)
            client.outcomeWindow = 100
            client.outcomeRefresh = .seconds(60)
            defer { client.close() }
            let jobs = (1...UInt64(350)).map { $0 }
            let outcomes = spawn { try await client.outcomes(of: jobs).collect() }
            let first = try await collector.nextWait()
            XCTAssertEqual(first.jobs, Array(1...100), "the first window, in order")
            // 49 outcomes leave 51 asked about: more than half the window, no new ask; the 50th
            // brings it to half, and the next ask fills the window again. Any earlier ask, or a
            // larger one, would be the WAIT read here.
            for job: UInt64 in 1...50 { try await collector.outcome(job, request: first.request, to: first.peer) }
            let second = try await collector.nextWait()
            XCTAssertEqual(second.jobs, Array(101...150), "asked at half the window, up to the window")
            var asked = first.jobs + second.jobs
            var outstanding = Array(51...150) as [UInt64]
            while true {
                for job in outstanding { try await collector.outcome(job, request: first.request, to: first.peer) }
                outstanding = []
                guard asked.count < jobs.count else { break }
                let next = try await collector.nextWait()
                asked += next.jobs
                outstanding += next.jobs
            }
            XCTAssertEqual(asked, jobs, "every job asked about once, in order")
            let received = try await outcomes.wait()
            XCTAssertEqual(received.map(\.job).sorted(), jobs, "every outcome once")
        }
    }

    func testJobsRefusedBusyAreAskedAgainWhileOtherNewsKeepsComing() throws {
        try green(deadline: .seconds(30)) {
            let collector = try ScriptedCollector()
            let client = try JobClient(dispatcher: inproc(), collector: collector.endpoint)
            client.outcomeRefresh = .milliseconds(200)
            defer { client.close() }
            let outcomes = spawn { try await client.outcomes(of: [1, 2, 3]).collect() }
            let first = try await collector.nextWait()
            XCTAssertEqual(Set(first.jobs), [1, 2, 3])
            // Job 1 is held, 2 and 3 are beyond the client's room; job 1's progress keeps coming
            // (news of the stream, which alone would not make it ask again).
            try await collector.send(
                .error(request: first.request, code: .busy, reason: "a client may wait for 1 jobs at once"), to: first.peer)
            let chatter = spawn {
                while true {
                    try await collector.send(
                        .progressNote(request: first.request, job: 1, done: 1, total: 2, message: ""), to: first.peer)
                    try await sleep(for: .milliseconds(50))
                }
            }
            defer { chatter.cancel() }
            let second = try await collector.nextWait()
            XCTAssertEqual(second.request, first.request)
            XCTAssertTrue(Set(second.jobs).isSuperset(of: [2, 3]), "asked again for the refused jobs")
            for job: UInt64 in [1, 2, 3] { try await collector.outcome(job, request: second.request, to: second.peer) }
            let received = try await outcomes.wait()
            XCTAssertEqual(received.map(\.job).sorted(), [1, 2, 3], "busy is not an end")
        }
    }
}
