// Evy docs, examples/feedscraper.py: a web server that accepts POSTs containing a list of feed URLs
// (one per line) and returns the titles of those feeds, fetched concurrently through a GreenPile
// on a global pool.
//   swift run example-feed-scraper [port]        (9010)
//   curl --data-binary @feeds.txt http://localhost:9010/
import Evy
import EvyCrawl
import EvyHTTP
import Foundation

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 9010

try Hub.run {
    // The pool provides a safety limit on our concurrency; the client shares connections.
    let pool = GreenPool()
    let client = HTTPClient()
    let server = HTTPServer { request, _ in
        guard request.method == "POST" else { return HTTPResponse(status: 403) }
        // The pile collects the results of a concurrent operation: here, the feed titles.
        let pile = GreenPile<String>(pool: pool)
        for line in String(decoding: try await request.body.readAll(), as: UTF8.self).split(whereSeparator: \.isNewline)
        {
            let url = line.trimmingCharacters(in: .whitespaces)
            guard !url.isEmpty else { continue }
            try await pile.spawn {
                let feed = Feed(data: (try? await client.get(url).body) ?? [])
                return feed.title ?? ""
            }
        }
        let titles = try await pile.collect().joined(separator: "\n")
        return HTTPResponse(headers: [("Content-Type", "text/plain")], body: Array(titles.utf8))
    }
    let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: port))
    say("feed scraper listening on port \(listener.localAddress!.port)")
    try await server.serve(listener)
}

extension AsyncSequence {
    func collect() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}
