// Evy docs, examples/producer_consumer.py: the recursive crawler as producer and consumer — fetches
// produce URLs into a queue, the main green thread consumes them and farms fetches out to a pool.
//   swift run example-producer-consumer-crawler [start-url]
import Evy
import EvyCrawl
import EvyHTTP
import Foundation

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let start = CommandLine.arguments.dropFirst().first ?? "http://evy.net/"

try Hub.run {
    let client = HTTPClient()
    let pool = GreenPool(size: 100)
    let queue = Queue<String>()
    let normalized = HTMLPage.normalizedURL(URL(string: start)!) ?? start
    let site = URL(string: normalized)!.host!
    var seen: Set<String> = []
    try queue.putNowait(normalized)
    // Keep looping while there are new URLs, or fetches that may produce more.
    while true {
        while let url = try? queue.getNowait() {
            guard !seen.contains(url), URL(string: url)?.host == site else { continue }
            seen.insert(url)
            try await pool.spawnN {
                say("fetching \(url)")
                let body = try await withTimeout(.seconds(5), orElse: [UInt8]()) {
                    (try? await client.get(url).body) ?? []
                }
                for link in HTMLPage(html: body, url: URL(string: url)!).links { try queue.putNowait(link) }
            }
        }
        try await pool.waitAll()
        if queue.isEmpty { break }
    }
    say("I saw these urls:")
    for url in seen.sorted() { say(url) }
}
