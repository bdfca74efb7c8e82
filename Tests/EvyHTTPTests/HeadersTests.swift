import Evy
import EvyHTTP
import EvyTestSupport
import Foundation
import XCTest

final class HeadersTests: XCTestCase {
    func testLookupIgnoresCaseAndKeepsOrderAndRepeats() {
        var headers: HTTPHeaders = [("Content-Type", "text/plain"), ("Set-Cookie", "a=1")]
        headers.append(("set-cookie", "b=2"))
        XCTAssertEqual(headers["content-type"], "text/plain")
        XCTAssertEqual(headers["SET-COOKIE"], "a=1", "the first of repeated fields")
        XCTAssertEqual(headers.values(for: "Set-Cookie"), ["a=1", "b=2"])
        XCTAssertEqual(headers.map(\.name), ["Content-Type", "Set-Cookie", "set-cookie"], "names as written, in order")
        XCTAssertNil(headers["Content-Length"])
        headers.remove("SET-cookie")
        XCTAssertEqual(headers.count, 1)
        XCTAssertFalse(headers.contains("set-cookie"))
        XCTAssertEqual(headers + [("X-A", "1")], [("Content-Type", "text/plain"), ("X-A", "1")])
        XCTAssertNotEqual(headers, [("content-type", "text/plain")], "equality compares names as written")
    }

    /// Host names are case-insensitive: one keep-alive connection serves both spellings.
    func testPoolKeysIgnoreTheHostsCase() throws {
        try green {
            let (server, address) = try startServer { request, _ in .text(request.header("Host") ?? "") }
            let port = address.port
            let client = HTTPClient()
            let lower = try await client.get("http://localhost:\(port)/")
            let upper = try await client.get("http://LOCALHOST:\(port)/")
            XCTAssertEqual(lower.text, "localhost:\(port)")
            XCTAssertEqual(upper.text, "LOCALHOST:\(port)", "the Host header is sent as written")
            XCTAssertEqual(client.connectionsOpened, 1)
            client.close()
            await server.stop()
        }
    }
}

/// `Retry-After` as a client reads it: seconds or an IMF-fixdate, anything else ignored.
final class RetryAfterTests: XCTestCase {
    private func response(_ retryAfter: String?) -> HTTPClientResponse {
        HTTPClientResponse(
            status: 429, headers: retryAfter.map { [("Retry-After", $0)] } ?? [], body: [],
            url: URL(string: "http://127.0.0.1/")!)
    }

    func testSecondsAndDatesAreDelaysFromNow() {
        let now = HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT")!
        XCTAssertEqual(now.timeIntervalSince1970, 784_111_777)
        XCTAssertEqual(response("120").retryAfter(now: now), .seconds(120))
        XCTAssertEqual(response(" 0 ").retryAfter(now: now), .zero)
        XCTAssertEqual(response("Sun, 06 Nov 1994 08:50:07 GMT").retryAfter(now: now), .seconds(30))
        XCTAssertEqual(response("Sun, 06 Nov 1994 08:00:00 GMT").retryAfter(now: now), .zero, "a date past: now")
        for garbage in ["-5", "soon", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT", ""] {
            XCTAssertNil(response(garbage).retryAfter(now: now), garbage)
        }
        XCTAssertNil(response(nil).retryAfter(now: now))
    }
}
