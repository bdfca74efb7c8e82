@_spi(GreenWorld) import Evy
typealias DefaultExecutorFactory = GreenWorld

@main struct Main {
    static func main() async throws {
        print("active", GreenWorld.isActive, Hub.main.isOnHubThread)
        let t = Task { Hub.main.isOnHubThread }
        let start = ContinuousClock.now
        try await Task.sleep(for: .milliseconds(10))
        print("slept", start.duration(to: .now))
        print(await t.value, Hub.main.isOnHubThread)
        let d = Task.detached { Hub.main.isOnHubThread }
        print("detached on hub", await d.value)
        let g = spawn { try await sleep(for: .milliseconds(5)); return 7 }
        print(try await g.wait())
    }
}
