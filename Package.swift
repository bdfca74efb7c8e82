// swift-tools-version:6.1
import PackageDescription

// MARK: Settings

/// Every Evy library module: async functions run on their caller's executor (the hub) instead of
/// hopping to the generic executor and back at every call, which costs about 17% of a switch.
let evySettings: [SwiftSetting] = [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]

/// Green-the-world executables install the hub as Swift's main and default executor. The executor
/// factory is SPI and, on Linux, is only honoured with availability checking disabled
/// (docs/architecture.md, "Green-the-world mode").
let greenWorldSettings: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-disable-availability-checking"])]

// MARK: Examples

/// One runnable program per example of the reference documents (Examples/NAME/main.swift), by the
/// modules they use.
let examples: [(names: [String], modules: [Target.Dependency])] = [
    (
        [
            "actor", "channel-producer-consumer", "chat-server", "connect", "coroutine-pool", "echo-server",
            "event-loop", "event-waiters", "forwarder", "green-cat", "queue-workers", "ssl-echo-server",
            "task-local", "thread-pool-copy",
        ], ["Evy"]
    ),
    (["http-hello", "web-crawler", "websocket", "websocket-chat"], ["Evy", "EvyHTTP"]),
    (["feed-scraper", "producer-consumer-crawler", "recursive-crawler"], ["Evy", "EvyHTTP", "EvyCrawl"]),
    (["zmq-broker", "zmq-pipeline", "zmq-pubsub", "zmq-reqrep"], ["Evy", "EvyZMQ"]),
    (["job-worker"], ["Evy", "EvyJobs"]),
]

// MARK: System libraries (Debian's -dev packages, installed by scripts/setup)

let systemLibraries: [Target] = [
    .systemLibrary(name: "CLibUV", path: "Sources/CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
    .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
    // No pkg-config here: libzmq's .pc adds Kerberos include flags SwiftPM warns about, and zmq.h
    // lives in /usr/include anyway.
    .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
    // Node's original http_parser; Debian ships no pkg-config file for it.
    .systemLibrary(name: "CHTTPParser", path: "Sources/CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
    .systemLibrary(
        name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
    .systemLibrary(
        name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
]

// MARK: Libraries

let libraries: [Target] = [
    .target(
        name: "Evy",
        dependencies: [
            "CLibUV", "COpenSSL",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "HeapModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ],
        swiftSettings: evySettings),
    .target(name: "EvyZMQ", dependencies: ["Evy", "CZeroMQ"], swiftSettings: evySettings),
    .target(
        name: "EvyHTTP",
        dependencies: [
            "Evy", "CHTTPParser", "CZlib", "COpenSSL", .product(name: "Logging", package: "swift-log"),
            .product(name: "DequeModule", package: "swift-collections"),
        ],
        swiftSettings: evySettings),
    .target(name: "EvyCrawl", dependencies: ["Evy", "CLibXML2"], swiftSettings: evySettings),
    /// The distributed worker system: protocol, journal, dispatcher, worker, collector, client.
    .target(
        name: "EvyJobs",
        dependencies: [
            "Evy", "EvyZMQ", "CSQLite", .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "HeapModule", package: "swift-collections"),
        ],
        swiftSettings: evySettings),
    /// Operating the job system: /metrics (Prometheus), the dashboard, the inspection endpoint.
    .target(
        name: "EvyOps",
        dependencies: [
            "Evy", "EvyHTTP", "EvyJobs", "EvyFeeds", .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ],
        swiftSettings: evySettings),
    /// The job handlers shipped with Evy (workers/).
    .target(
        name: "EvyHandlers", dependencies: ["Evy", "EvyHTTP", "EvyJobs", "EvyCrawler", "EvyFeeds"], path: "workers/handlers",
        swiftSettings: evySettings),
    /// The crawler pipeline on the job system (workers/crawler).
    .target(
        name: "EvyCrawler",
        dependencies: [
            "Evy", "EvyHTTP", "EvyCrawl", "EvyJobs", .product(name: "DequeModule", package: "swift-collections"),
        ], path: "workers/crawler",
        swiftSettings: evySettings),
    /// The feed-scraper pipeline on the job system (workers/feeds).
    .target(
        name: "EvyFeeds",
        dependencies: [
            "Evy", "EvyHTTP", "EvyCrawl", "EvyJobs", .product(name: "HeapModule", package: "swift-collections"),
        ], path: "workers/feeds",
        swiftSettings: evySettings),
    /// What the test targets (and the fuzzer) share: the `green {}` runner, in-memory streams.
    .target(name: "EvyTestSupport", dependencies: ["Evy"], swiftSettings: evySettings),
    .target(name: "EvyBenchmarks", dependencies: ["Evy", "EvyZMQ"], swiftSettings: evySettings),
    .target(name: "EvyConformance", dependencies: ["Evy"], swiftSettings: evySettings),
]

// MARK: Executables

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

let executables: [Target] = [
    .executableTarget(name: "evy-demo", dependencies: ["Evy"]),
    .executableTarget(name: "evy-dispatcher", dependencies: ["Evy", "EvyJobs", "EvyOps", argumentParser]),
    .executableTarget(name: "evy-collector", dependencies: ["Evy", "EvyJobs", "EvyOps", argumentParser]),
    .executableTarget(name: "evy-worker", dependencies: ["Evy", "EvyJobs", "EvyOps", "EvyHandlers", argumentParser]),
    .executableTarget(
        name: "evy", dependencies: ["Evy", "EvyCrawl", "EvyJobs", "EvyCrawler", "EvyFeeds", "EvyOps", argumentParser]),
    .executableTarget(
        name: "evy-bench",
        dependencies: ["Evy", "EvyZMQ", "EvyHTTP", "EvyCrawl", "EvyJobs", "EvyCrawler", "EvyFeeds", "EvyBenchmarks"]),
    .executableTarget(
        name: "evy-bench-green", dependencies: ["Evy", "EvyBenchmarks"], swiftSettings: greenWorldSettings),
    .executableTarget(
        name: "evy-selftest", dependencies: ["Evy", "EvyConformance"], swiftSettings: greenWorldSettings),
]

// MARK: Tests

let tests: [Target] = [
    .testTarget(name: "EvyTests", dependencies: ["Evy", "EvyConformance", "EvyTestSupport"]),
    .testTarget(name: "EvyZMQTests", dependencies: ["Evy", "EvyZMQ", "EvyTestSupport"]),
    .testTarget(name: "EvyHTTPTests", dependencies: ["Evy", "EvyHTTP", "EvyTestSupport"]),
    .testTarget(name: "EvyCrawlTests", dependencies: ["Evy", "EvyCrawl", "EvyTestSupport"]),
    .testTarget(
        name: "EvyJobsTests", dependencies: ["Evy", "EvyZMQ", "EvyJobs", "EvyHandlers", "EvyTestSupport"],
        resources: [.copy("Fixtures")]),
    .testTarget(
        name: "EvyCrawlerTests", dependencies: ["Evy", "EvyHTTP", "EvyCrawl", "EvyCrawler", "EvyTestSupport"]),
    .testTarget(
        name: "EvyOpsTests",
        dependencies: [
            "Evy", "EvyHTTP", "EvyCrawl", "EvyJobs", "EvyFeeds", "EvyOps", "EvyTestSupport",
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
    .testTarget(
        name: "EvyFeedsTests", dependencies: ["Evy", "EvyHTTP", "EvyCrawl", "EvyJobs", "EvyFeeds", "EvyTestSupport"]),
]

// MARK: Package

let package = Package(
    name: "Evy",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Evy", targets: ["Evy"]),
        .library(name: "EvyZMQ", targets: ["EvyZMQ"]),
        .library(name: "EvyHTTP", targets: ["EvyHTTP"]),
        .library(name: "EvyCrawl", targets: ["EvyCrawl"]),
        .library(name: "EvyJobs", targets: ["EvyJobs"]),
        .library(name: "EvyOps", targets: ["EvyOps"]),
        .executable(name: "evy-demo", targets: ["evy-demo"]),
        .executable(name: "evy-dispatcher", targets: ["evy-dispatcher"]),
        .executable(name: "evy-collector", targets: ["evy-collector"]),
        .executable(name: "evy-worker", targets: ["evy-worker"]),
        .executable(name: "evy", targets: ["evy"]),
        .executable(name: "evy-bench", targets: ["evy-bench"]),
        .executable(name: "evy-bench-green", targets: ["evy-bench-green"]),
        .executable(name: "evy-selftest", targets: ["evy-selftest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: systemLibraries + libraries + executables + tests
        + examples.flatMap { group in
            group.names.map { name in
                .executableTarget(name: "example-\(name)", dependencies: group.modules, path: "Examples/\(name)")
            }
        },
    swiftLanguageModes: [.v6]
)

/// The libFuzzer target exists only for scripts/fuzz: it has no `main` of its own.
if Context.environment["EVY_FUZZ"] != nil {
    package.targets.append(
        .executableTarget(
            name: "evy-fuzz", dependencies: ["EvyHTTP", "EvyCrawl", "EvyJobs", "EvyTestSupport"], path: "Tests/Fuzz",
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]))
}
