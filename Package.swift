// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "Halqa",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "halqa", targets: ["halqa"]),
        .library(name: "Meeting", targets: ["Meeting"]),
    ],
    dependencies: [
        // SQLite comes from Debian's libsqlite3-dev through GRDB's own system-library target.
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "Meeting",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "halqa",
            dependencies: [
                "Meeting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Development tools: the store benchmark and the crash-test child process.
        .executableTarget(
            name: "halqa-dev",
            dependencies: [
                "Meeting",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MeetingTests",
            dependencies: ["Meeting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HalqaTests",
            dependencies: ["halqa", "halqa-dev", "Meeting"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
