// Evy docs, examples/webcrawler.py: fetches a bunch of URLs through a pool that bounds the open
// connections; the prints show the requests really run in parallel.
//   swift run example-web-crawler [url ...]
import Evy
import EvyHTTP
import Foundation

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }
let urls =
    CommandLine.arguments.count > 1
    ? Array(CommandLine.arguments.dropFirst())
    : [
        "http://www.google.com/intl/en_ALL/images/logo.gif",
        "https://wiki.secondlife.com/w/images/secondlife.jpg",
        "http://us.i1.yimg.com/us.yimg.com/i/ww/beta/y3.gif",
    ]

try Hub.run {
    let client = HTTPClient()
    let pool = GreenPool(size: 200)
    let fetch: @Sendable (String) async throws -> (String, Int) = { url in
        say("opening \(url)")
        let body = (try? await client.get(url).body) ?? []
        say("done with \(url)")
        return (url, body.count)
    }
    for try await (url, length) in pool.imap(urls, fetch) {
        say("got body from \(url) of length \(length)")
    }
}
