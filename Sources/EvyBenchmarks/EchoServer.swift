import Evy
import Foundation
import Glibc

/// The Evy servers `evy-bench echo` and `evy-bench idle-connections` measure, run in a process of
/// their own (`evy-bench --echo-server raw|lines`). They print `listening PORT` and serve until
/// killed.
public enum EchoServers {
    /// Serves on a free loopback port: `raw` echoes whatever arrives (the C reference's protocol);
    /// `lines` is the classic green echo server (read a line, write it, flush).
    public static func run(_ kind: String) async throws {
        raiseDescriptorLimit()
        let listener = try listen(on: SocketAddress(ip: "127.0.0.1", port: 0), backlog: 4096)
        FileHandle.standardOutput.write(Data("listening \(listener.localAddress!.port)\n".utf8))
        try await serve(listener, concurrency: 100_000) { client, _ in
            // A client that resets ends its own connection, not the server (serve() would
            // rethrow a handler's error).
            do { try await echo(client, kind) } catch is SocketError {}
        }
    }

    private static func echo(_ client: Socket, _ kind: String) async throws {
        try client.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        if kind == "lines" {
            let stream = client.buffered()
            while let line = try await stream.readLine() {
                try await stream.write(line + "\n")
                try await stream.flush()
            }
        } else {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let count = try await client.receive(into: buffer)
                if count == 0 { return }
                try await client.sendAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
        }
    }

    /// Raises the soft limit on open descriptors to the hard limit (10,000 connections need it).
    public static func raiseDescriptorLimit() {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
