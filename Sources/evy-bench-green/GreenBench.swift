// The green-thread benchmarks in green-the-world mode: Swift's main and default executors are the
// main hub. `evy-bench` runs this binary beside itself; it can also be run alone:
// `swift run -c release evy-bench-green spawn [N]`.
@_spi(GreenWorld) import Evy
import EvyBenchmarks

typealias DefaultExecutorFactory = GreenWorld

@main struct GreenBench {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first else {
            print("usage: evy-bench-green SCENARIO [N]   (scenarios: \(Scenarios.names.joined(separator: ", ")))")
            return
        }
        precondition(GreenWorld.isActive, "green-the-world mode did not take effect")
        let n = arguments.dropFirst().first.flatMap { Int($0) } ?? Scenarios.defaultN
        print(try await Scenarios.run(name, n: n, source: "evy-green-world").json)
    }
}
