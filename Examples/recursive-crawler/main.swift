// Evy docs, examples/recursive_crawler.py: fetches pages from a seed URL and follows the links that
// stay on its site. The GreenPool is the job coordinator: every fetch spawns the fetches of the new
// links it finds into the same pool (a full pool runs them inline instead of deadlocking).
//   swift run example-recursive-crawler [start-url]
import Evy
import EvyCrawl
import EvyHTTP
import Foundation

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let start = CommandLine.arguments.dropFirst().first ?? "http://evy.net/"

/// The URLs seen so far, shared by the green threads of the hub.
final class Seen: @unchecked Sendable {
    var urls: Set<String> = []
}

@Sendable func fetch(_ url: String, site: String, seen: Seen, pool: GreenPool, client: HTTPClient) async throws {
    say("fetching \(url)")
    // Give up on a page after 5 seconds, as the original's Timeout(5, False).
    let body = try await withTimeout(.seconds(5), orElse: [UInt8]()) { (try? await client.get(url).body) ?? [] }
    for link in HTMLPage(html: body, url: URL(string: url)!).links where !seen.urls.contains(link) {
        // Only this site, so as not to crawl the whole internet.
        guard URL(string: link)?.host == site else { continue }
        seen.urls.insert(link)
        try await pool.spawnN { try await fetch(link, site: site, seen: seen, pool: pool, client: client) }
    }
}

try Hub.run {
    let pool = GreenPool(size: 100)
    let seen = Seen()
    let client = HTTPClient()
    let normalized = HTMLPage.normalizedURL(URL(string: start)!) ?? start
    seen.urls.insert(normalized)
    try await fetch(normalized, site: URL(string: normalized)!.host!, seen: seen, pool: pool, client: client)
    try await pool.waitAll()
    say("I saw these urls:")
    for url in seen.urls.sorted() { say(url) }
}
