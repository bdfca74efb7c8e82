// The HTTP benchmarks of evy-bench: a crawl of a 20,000-page site served by nginx, next
// to gevent's crawler in the same run, and hello-world requests per second under wrk, next to
// nginx and a Hummingbird 2 server in the same run. Servers run on CPU 0, load on CPU 1.
import Evy
import EvyCrawl
import EvyHTTP
import Foundation
import Glibc

/// The repository's `Benchmarks/crawl` folder (evy-bench runs from the repository's root).
let crawlScripts = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    .appendingPathComponent("Benchmarks/crawl")

/// The `value` of the first JSON line in `output` that has one.
func jsonValue(_ output: String) -> Double? {
    for line in output.split(separator: "\n") {
        if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let value = object["value"] as? Double
        {
            return value
        }
    }
    return nil
}

/// A port nothing listens on right now (for nginx, which cannot be told to pick one itself).
func freePort() throws -> Int { try freePorts(1)[0] }

/// `count` different ports nothing listens on right now. All are held open until each is read:
/// a port closed before the next is bound may be handed out again.
func freePorts(_ count: Int) throws -> [Int] {
    try Hub.run {
        let sockets = try (0..<count).map { _ in try listen(on: SocketAddress(ip: "127.0.0.1", port: 0)) }
        defer { for socket in sockets { socket.close() } }
        return sockets.map { $0.localAddress!.port }
    }
}

/// Waits until something accepts connections on `port` (up to 10 s).
func waitForListener(_ port: Int) throws {
    try Hub.run {
        try await withTimeout(.seconds(10), label: "server on port \(port)") {
            while true {
                if let socket = try? await connect(to: SocketAddress(ip: "127.0.0.1", port: port)) {
                    socket.close()
                    return
                }
                try await sleep(for: .milliseconds(20))
            }
        }
    }
}

/// nginx serving `root` on a free port, pinned to `cpu`, killed after `seconds` if not stopped.
struct Nginx {
    let child: Child
    let port: Int

    /// Starts nginx; if the port was taken in the meantime (nginx exits), tries two more.
    static func start(root: URL, cpu: Int, seconds: Double) throws -> Nginx {
        for _ in 0..<3 {
            let port = try freePort()
            let conf = try Child.run(
                [
                    "python3", crawlScripts.appendingPathComponent("make_site.py").path, "--nginx-conf",
                    "\(port)", root.path, root.appendingPathComponent("nginx.pid").path,
                ], seconds: 30)
            let confFile = root.appendingPathComponent("nginx.conf")
            try Data(conf.utf8).write(to: confFile)
            let child = try Child(
                ["/usr/sbin/nginx", "-c", confFile.path, "-g", "daemon off;"], cpus: "\(cpu)",
                seconds: seconds)
            if (try? waitForListener(port)) != nil, child.isRunning { return Nginx(child: child, port: port) }
            child.stop()
        }
        throw BenchmarkFailure("nginx did not start (see \(root.path)/nginx-error.log)")
    }

    func stop() { child.stop() }
}

/// Throws unless every one of `tools` is installed (scripts/bench installs them).
func require(_ tools: [String]) throws {
    let missing = tools.filter { !FileManager.default.isExecutableFile(atPath: $0) }
    guard missing.isEmpty else {
        throw BenchmarkFailure(
            "missing \(missing.joined(separator: ", ")): scripts/bench installs it (apt-get install nginx wrk)")
    }
}

// MARK: crawl

/// `evy-bench crawl`: pages per second crawling a generated site (about 10 links a page) from
/// nginx with a pool of 100: Evy on one CPU, Evy parsing in its thread pool (one process on both
/// CPUs), and gevent (if importable) on the same site in the same run, alternating, best of
/// `rounds` each (ratio = Evy / gevent finding links by regex, which uses one CPU whatever it is
/// given; the target is 5x in one process; ratio_gevent_lxml = Evy / gevent parsing with lxml,
/// the libxml2 parser Evy uses).
func crawlBenchmark(pages: Int, rounds: Int = 3) throws {
    try require(["/usr/sbin/nginx", "/usr/bin/taskset"])
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("evy-bench-site-\(getpid())")
    defer { try? FileManager.default.removeItem(at: root) }
    _ = try Child.run(
        ["python3", crawlScripts.appendingPathComponent("make_site.py").path, root.path, "\(pages)"],
        seconds: 300)
    // Each crawl is killed if it takes more than `crawlSeconds`; nginx outlives them all.
    let crawlSeconds = 60 + Double(pages) / 100
    let nginx = try Nginx.start(root: root, cpu: 1, seconds: crawlSeconds * Double(4 * rounds + 1))
    defer { nginx.stop() }
    let base = "http://127.0.0.1:\(nginx.port)"
    let me = CommandLine.arguments[0]
    let script = crawlScripts.appendingPathComponent("gevent_crawl.py").path
    // nginx's first pass over new files costs more than the next: one unmeasured crawl first.
    // Then each crawler runs `rounds` times, alternating, and the best run of each counts.
    _ = try Child.run([me, "--crawl", base, "100", "\(pages)"], cpus: "0", seconds: crawlSeconds)
    // `evy-tpool` parses in a thread pool of two, so its one process uses both CPUs (sharing the
    // second with nginx); the others run on CPU 0 alone.
    let crawlers: [(source: String, command: [String], cpus: String)] = [
        ("evy", [me, "--crawl", base, "100", "\(pages)"], "0"),
        ("evy-tpool", [me, "--crawl", base, "100", "\(pages)", "2"], "0,1"),
        ("gevent", ["python3", script, base, "100", "\(pages)"], "0"),
        ("gevent-lxml", ["python3", script, "--lxml", base, "100", "\(pages)"], "0"),
    ]
    var best: [String: Double] = [:]
    for _ in 0..<rounds {
        for crawler in crawlers {
            attempt("crawl", source: crawler.source) {
                let child = try Child(crawler.command, cpus: crawler.cpus, seconds: crawlSeconds)
                let output = try child.finish()
                guard let rate = jsonValue(output) else {
                    // A reference that is not importable is said once, below.
                    if crawler.source.hasPrefix("gevent") { return }
                    throw BenchmarkFailure("no result (exit status \(child.status))")
                }
                print(output.trimmingCharacters(in: .whitespacesAndNewlines))
                best[crawler.source] = max(best[crawler.source] ?? 0, rate)
            }
        }
    }
    if best["gevent"] == nil || best["gevent-lxml"] == nil {
        print(
            json([
                ("name", "crawl"),
                ("note", "gevent or lxml not importable (pip install gevent lxml): fewer references"),
            ]))
    }
    for source in ["evy", "evy-tpool"] {
        let evy = best[source] ?? 0
        var fields: [(String, Any)] = [
            ("name", "crawl"), ("source", source), ("value", evy), ("unit", "pages/s"),
            ("runs", rounds), ("cpus", source == "evy" ? 1 : 2),
        ]
        if let gevent = best["gevent"] { fields += [("ratio", evy / gevent), ("ratio_reference", "gevent")] }
        // gevent with lxml could parse in its own threads (lxml lets go of the GIL): only the
        // one-CPU Evy is held against the one-CPU run of it.
        if source == "evy", let lxml = best["gevent-lxml"] { fields.append(("ratio_gevent_lxml", evy / lxml)) }
        print(json(fields))
    }
}

/// The crawler `evy-bench crawl` times (`evy-bench --crawl BASE POOL LIMIT [PARSE-THREADS]`): a
/// queue of URLs, a pool of green threads fetching over keep-alive connections, links from
/// libxml2 (in a thread pool of PARSE-THREADS if given: `tpool`'s use for CPU-bound work),
/// resolved and deduplicated, staying on the site.
func runCrawler(base: String, poolSize: Int, limit: Int, parsers: ThreadPool? = nil) throws {
    let result = try Hub.run {
        var configuration = HTTPClient.Configuration()
        configuration.maxConnectionsPerHost = poolSize
        let client = HTTPClient(configuration: configuration)
        let start = base + "/p/0.html"
        let site = base + "/"
        let state = CrawlState(start: start)
        // As gevent's crawler does: a pool of green threads taking URLs from a queue and putting
        // the new links they find back; nil tells them the crawl is over.
        let queue = LifoQueue<String?>()
        try queue.putNowait(start)
        let workers = GreenPool(size: poolSize)
        let began = ContinuousClock.now
        for _ in 0..<poolSize {
            try await workers.spawnN {
                while let url = try await queue.get() {
                    do {
                        let response = try await client.get(url)
                        if response.status == 200 {
                            state.fetched += 1
                            let (body, url) = (response.body, response.url)
                            let links: [String]
                            if let parsers {
                                links = try await parsers.execute { HTMLPage(html: body, url: url).links }
                            } else {
                                links = HTMLPage(html: body, url: url).links
                            }
                            for link in links
                            where state.seen.count < limit && link.hasPrefix(site) && state.seen.insert(link).inserted {
                                state.unfinished += 1
                                try queue.putNowait(link)
                            }
                        } else {
                            state.errors += 1
                        }
                    } catch {
                        state.errors += 1
                    }
                    state.unfinished -= 1
                    if state.unfinished == 0 { for _ in 0..<poolSize { try queue.putNowait(nil) } }
                }
            }
        }
        try await workers.waitAll()
        let (fetched, errors) = (state.fetched, state.errors)
        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (fetched, errors, seconds)
    }
    print(
        json([
            ("name", "crawl"), ("source", parsers == nil ? "evy-run" : "evy-tpool-run"),
            ("value", Double(result.0) / result.2), ("unit", "pages/s"),
            ("pages", result.0), ("errors", result.1), ("seconds", result.2),
        ]))
}

/// The crawl's shared state: green threads of one hub share it without locks.
private final class CrawlState: @unchecked Sendable {
    var seen: Set<String>
    /// URLs queued or being fetched.
    var unfinished = 1
    var fetched = 0
    var errors = 0
    init(start: String) { seen = [start] }
}

// MARK: http-server

/// `evy-bench http-server`: hello-world requests per second under wrk (100 connections, one
/// thread on CPU 1), for nginx serving a static file, a Hummingbird 2 server (built from
/// Benchmarks/hummingbird-hello when the package mirror has it) and Evy's server on CPU 0, one
/// after the other (ratio = Evy / Hummingbird; the target is 1x; ratio_nginx = Evy / nginx).
func httpServerBenchmark(seconds: Int) throws {
    try require(["/usr/sbin/nginx", "/usr/bin/wrk", "/usr/bin/taskset"])
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("evy-bench-hello-\(getpid())")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: root) }
    try Data("Hello, World!\r\n".utf8).write(to: root.appendingPathComponent("hello.txt"))

    func wrk(_ port: Int, path: String) throws -> Double {
        let output = try Child.run(
            ["wrk", "-t1", "-c100", "-d\(seconds)s", "http://127.0.0.1:\(port)\(path)"],
            cpus: "1", seconds: Double(seconds) + 30)
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("Requests/sec:") }),
            let rate = Double(line.split(separator: " ").last ?? "")
        else { throw BenchmarkFailure("wrk printed no rate: \(output)") }
        if output.contains("Non-2xx") || output.contains("Socket errors") {
            throw BenchmarkFailure("wrk saw errors: \(output)")
        }
        return rate
    }

    var rates: [String: Double] = [:]
    let lifetime = Double(seconds) + 60
    attempt("http-server", source: "nginx") {
        let nginx = try Nginx.start(root: root, cpu: 0, seconds: lifetime)
        defer { nginx.stop() }
        rates["nginx"] = try wrk(nginx.port, path: "/hello.txt")
        print(json([("name", "http-server"), ("source", "nginx"), ("value", rates["nginx"]!), ("unit", "req/s")]))
    }

    if let hummingbird = buildHummingbird() {
        attempt("http-server", source: "hummingbird") {
            let server = try ServerProcess.start([hummingbird, "0"], seconds: lifetime)
            defer { server.stop() }
            rates["hummingbird"] = try wrk(server.port, path: "/")
            print(
                json([
                    ("name", "http-server"), ("source", "hummingbird"), ("value", rates["hummingbird"]!),
                    ("unit", "req/s"),
                ]))
        }
    }

    let evy = try ServerProcess.start([CommandLine.arguments[0], "--http-hello"], seconds: lifetime)
    defer { evy.stop() }
    let rate = try wrk(evy.port, path: "/")
    var fields: [(String, Any)] = [("name", "http-server"), ("source", "evy"), ("value", rate), ("unit", "req/s")]
    if let reference = rates["hummingbird"] {
        fields += [("ratio", rate / reference), ("ratio_reference", "hummingbird")]
    }
    if let nginx = rates["nginx"] { fields.append(("ratio_nginx", rate / nginx)) }
    print(json(fields))
}

/// Builds the Hummingbird hello-world server (release; the first build takes minutes, so it may
/// take 30) and returns its path, or nil (with a note) if it cannot be built here.
private func buildHummingbird() -> String? {
    let package = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        .appendingPathComponent("Benchmarks/hummingbird-hello")
    let scratch = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(
        ".build-hummingbird")
    let build = try? Child(
        ["swift", "build", "-c", "release", "--package-path", package.path, "--scratch-path", scratch.path],
        seconds: 1800, passOutput: .standardError)
    let built = (try? build?.finish()) != nil && build?.status == 0
    let binary = scratch.appendingPathComponent("release/hummingbird-hello").path
    guard built, FileManager.default.isExecutableFile(atPath: binary) else {
        print(json([("name", "http-server"), ("note", "Hummingbird server did not build: no Hummingbird reference")]))
        return nil
    }
    return binary
}

/// The hello-world server `evy-bench http-server` measures (`evy-bench --http-hello`): prints
/// `listening PORT` and answers every request with "Hello, World!".
func runHelloServer() throws {
    try Hub.run {
        var configuration = HTTPServer.Configuration()
        configuration.accessLog = false
        let hello = Array("Hello, World!\r\n".utf8)
        let server = HTTPServer(configuration: configuration) { _, _ in
            HTTPResponse(headers: [("Content-Type", "text/plain")], body: hello)
        }
        let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0))
        FileHandle.standardOutput.write(Data("listening \(listener.localAddress!.port)\n".utf8))
        try await server.serve(listener)
    }
}
