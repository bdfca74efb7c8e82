// swift-tools-version:6.1
import PackageDescription

/// Green-the-world executables install the hub as Swift's main and default executor. The executor
/// factory is SPI and, on Linux, is only honoured with availability checking disabled
/// (docs/architecture.md, "Green-the-world mode").
let greenWorldFlags: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-disable-availability-checking"])]

/// One runnable program per example of the reference documents (Examples/NAME/main.swift).
let examples = [
    "actor", "channel-producer-consumer", "chat-server", "connect", "coroutine-pool", "echo-server",
    "event-loop", "event-waiters", "forwarder", "green-cat", "queue-workers", "ssl-echo-server",
    "task-local", "thread-pool-copy",
]

/// The HTTP examples of the reference documents.
let httpExamples = [
    "feed-scraper", "http-hello", "producer-consumer-crawler", "recursive-crawler", "web-crawler", "websocket",
    "websocket-chat",
]

/// The green ZeroMQ examples (the ZeroMQ guide's patterns).
let zmqExamples = ["zmq-broker", "zmq-pipeline", "zmq-pubsub", "zmq-reqrep"]

let package = Package(
    name: "Evy",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Evy", targets: ["Evy"]),
        .library(name: "EvyZMQ", targets: ["EvyZMQ"]),
        .library(name: "EvyHTTP", targets: ["EvyHTTP"]),
        .executable(name: "evy-demo", targets: ["evy-demo"]),
        .executable(name: "evy-bench", targets: ["evy-bench"]),
        .executable(name: "evy-bench-green", targets: ["evy-bench-green"]),
        .executable(name: "evy-selftest", targets: ["evy-selftest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibUV",
            path: "Sources/CLibUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            path: "Sources/COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "Evy",
            dependencies: [
                "CLibUV",
                "COpenSSL",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Evy",
            swiftSettings: [
                // Evy's async functions run on their caller's executor (the hub) instead of hopping
                // to the generic executor and back at every call: about 17% of a switch.
                .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
            ]
        ),
        .executableTarget(name: "evy-demo", dependencies: ["Evy"], path: "Sources/evy-demo"),
        // No pkg-config here: libzmq's .pc adds Kerberos include flags SwiftPM warns about, and
        // zmq.h lives in /usr/include anyway (apt libzmq3-dev, installed by scripts/setup).
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
        .target(
            name: "EvyZMQ", dependencies: ["Evy", "CZeroMQ"], path: "Sources/EvyZMQ",
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]),
        // Debian's libhttp-parser-dev (Node's original parser); no pkg-config file.
        .systemLibrary(name: "CHTTPParser", path: "Sources/CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .target(
            name: "EvyHTTP",
            dependencies: [
                "Evy", "CHTTPParser", "CZlib", "COpenSSL", "CLibXML2", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/EvyHTTP",
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]),
        .target(
            name: "EvyBenchmarks", dependencies: ["Evy", "EvyZMQ"], path: "Sources/EvyBenchmarks",
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]),
        .executableTarget(name: "evy-bench", dependencies: ["Evy", "EvyZMQ", "EvyHTTP", "EvyBenchmarks"], path: "Sources/evy-bench"),
        .executableTarget(
            name: "evy-bench-green", dependencies: ["Evy", "EvyBenchmarks"], path: "Sources/evy-bench-green",
            swiftSettings: greenWorldFlags),
        .target(
            name: "EvyConformance", dependencies: ["Evy"], path: "Sources/EvyConformance",
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]),
        .executableTarget(
            name: "evy-selftest", dependencies: ["Evy", "EvyConformance"], path: "Sources/evy-selftest",
            swiftSettings: greenWorldFlags),
    ] + examples.map { name in
        .executableTarget(name: "example-\(name)", dependencies: ["Evy"], path: "Examples/\(name)")
    } + httpExamples.map { name in
        .executableTarget(name: "example-\(name)", dependencies: ["Evy", "EvyHTTP"], path: "Examples/\(name)")
    } + zmqExamples.map { name in
        .executableTarget(name: "example-\(name)", dependencies: ["Evy", "EvyZMQ"], path: "Examples/\(name)")
    } + [
        .testTarget(name: "EvyTests", dependencies: ["Evy", "EvyConformance"], path: "Tests/EvyTests"),
        .testTarget(name: "EvyZMQTests", dependencies: ["Evy", "EvyZMQ"], path: "Tests/EvyZMQTests"),
        .testTarget(name: "EvyHTTPTests", dependencies: ["Evy", "EvyHTTP"], path: "Tests/EvyHTTPTests"),
    ],
    swiftLanguageModes: [.v6]
)

/// The libFuzzer target exists only for scripts/fuzz: it has no `main` of its own.
if Context.environment["EVY_FUZZ"] != nil {
    package.targets.append(.executableTarget(
        name: "evy-fuzz", dependencies: ["EvyHTTP"], path: "Tests/Fuzz",
        swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
}
