// Evergreen docs, "ThreadPoolExecutor": blocking file copies run on real threads while green
// threads keep running.
//   swift run example-thread-pool-copy
import Evy
import Foundation

try Hub.run {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("evy-copy-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for name in ["src1.txt", "src2.txt", "src3.txt"] {
        try Data("contents of \(name)\n".utf8).write(to: directory.appendingPathComponent(name))
    }
    func copy(_ source: String, _ destination: String) -> @Sendable () throws -> String {
        { [directory] in
            try FileManager.default.copyItem(
                at: directory.appendingPathComponent(source), to: directory.appendingPathComponent(destination))
            return destination
        }
    }
    let executor = ThreadPoolExecutor(maxWorkers: 4)
    let copies = [
        try executor.submit(copy("src1.txt", "dest1.txt")),
        try executor.submit(copy("src2.txt", "dest2.txt")),
        try executor.submit(copy("src3.txt", "dest3.txt")),
        try executor.submit(copy("src3.txt", "dest4.txt")),
    ]
    try await executor.shutdown(wait: true)
    for copy in copies { print("copied", try await copy.result()) }
    print(try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted())
}
