// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

// The package test's next version (Tests/package/test_package.py): HALQA_UPGRADE_TEST=1 builds
// a Halqa one version higher whose store has one more schema migration.
let upgradeTest: [SwiftSetting] = Context.environment["HALQA_UPGRADE_TEST"] == "1" ? [.define("HALQA_UPGRADE_TEST")] : []

// scripts/package links the Swift runtime and Foundation into halqa (HALQA_STATIC_LINK=1), so
// a laptop needs no Swift toolchain. Only the link changes, so the modules already built (by
// the tests, scripts/halqa, the benchmarks) are reused; `--static-swift-stdlib` gives the same
// program but compiles every module again for the static runtime (a second whole build, about
// ten minutes, in a folder of its own: the tests cannot be built with it, since swift-testing
// has no static library). The modules were compiled for the shared runtime, whose module maps
// do not name what Foundation needs when it is linked in, so those libraries are named here;
// if a toolchain moves them, this link fails, and scripts/package refuses a program that still
// loads a Swift library.
let staticLink: [LinkerSetting] =
    Context.environment["HALQA_STATIC_LINK"] == "1"
    ? [
        .unsafeFlags(
            ["-static-stdlib"]
                + [
                    "Foundation", "FoundationInternationalization", "FoundationEssentials", "CoreFoundation", "_FoundationICU",
                    "_FoundationCShims", "_FoundationCollections", "swiftSynchronization",
                ].flatMap { ["-Xlinker", "-l" + $0] })
    ] : []

// scripts/fuzz: HALQA_FUZZ=1 gives Meeting (whose decoders it fuzzes) libFuzzer's coverage, and
// halqa-fuzz libFuzzer's entry points. Only these two modules change, so the fuzzer reuses every
// other module the tests' build compiled (a build folder of its own compiled them all again:
// four minutes of CI); the next ordinary build compiles Meeting and what imports it again.
// (The halqa-fuzz it leaves replays inputs as the ordinary one does: FuzzRegressionTests.)
let fuzzing = Context.environment["HALQA_FUZZ"] == "1"
let fuzzed: [SwiftSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"])] : []

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
        // A persistent hash map: a session's next state shares its events with the current one.
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", exact: "2.8.1"),
        // zlib's gzip for the pages phones load (hummingbird-websocket already depends on it).
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // Node-to-node transport: TLS 1.3 with pinned Ed25519 keys, framed messages.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        // Only for the benchmarks' simulated participants (already built for HummingbirdTesting).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        .target(
            name: "Meeting",
            dependencies: [
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                // scrypt, the memory-hard KDF of encrypted exports.
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict + upgradeTest + fuzzed
        ),
        // avahi-client from Debian's libavahi-client-dev: mDNS/DNS-SD through avahi-daemon.
        .systemLibrary(
            name: "CAvahi",
            pkgConfig: "avahi-client",
            providers: [.apt(["libavahi-client-dev"])]
        ),
        .target(
            name: "Discovery",
            dependencies: ["CAvahi"],
            swiftSettings: strict
        ),
        // libqrencode from Debian's libqrencode-dev: QR codes for the join URL.
        .systemLibrary(
            name: "CQREncode",
            pkgConfig: "libqrencode",
            providers: [.apt(["libqrencode-dev"])]
        ),
        // libsodium from Debian's libsodium-dev: opens what phones seal with tweetnacl (NaCl's
        // crypto_box: X25519 and XSalsa20-Poly1305, which swift-crypto does not have).
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(
            name: "Node",
            dependencies: [
                "Meeting",
                "Discovery",
                "CQREncode",
                "CSodium",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Pages")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "halqa",
            dependencies: [
                "Meeting",
                "Node",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict + upgradeTest,
            linkerSettings: staticLink
        ),
        // Development tools: the store benchmark and the crash-test child process.
        .executableTarget(
            name: "halqa-dev",
            dependencies: [
                "Meeting",
                "Node",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // The decoders of untrusted input under libFuzzer (scripts/fuzz); `halqa-fuzz TARGET
        // FILE...` replays inputs.
        .executableTarget(
            name: "halqa-fuzz",
            dependencies: ["Meeting"],
            swiftSettings: strict + fuzzed + (fuzzing ? [.unsafeFlags(["-parse-as-library"]), .define("FUZZING")] : []),
            linkerSettings: fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"])] : []
        ),
        // What every test target shares: temporary folders, free ports, work off the concurrency
        // pool, and reading data folders as an adversary would (as Hummingbird ships HummingbirdTesting).
        .target(
            name: "HalqaTestSupport",
            path: "Tests/Support",
            swiftSettings: strict
        ),
        .testTarget(
            name: "MeetingTests",
            dependencies: ["Meeting", "HalqaTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "NodeTests",
            dependencies: [
                "Node",
                "CSodium",
                "HalqaTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HalqaTests",
            dependencies: ["halqa", "halqa-dev", "Meeting", "HalqaTestSupport"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
