// swift-tools-version:6.1
// The Hummingbird 2 hello-world server that `evy-bench http-server` measures next to Evy's. Built
// by the benchmark on demand (into .build-hummingbird), never by `swift build` of the project.
import PackageDescription

let package = Package(
    name: "hummingbird-hello",
    platforms: [.macOS(.v14)],
    dependencies: [.package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1")],
    targets: [
        .executableTarget(
            name: "hummingbird-hello",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")]
        )
    ]
)
