// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "butler",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "butler", targets: ["butler"]),
        .library(name: "ButlerKit", targets: ["ButlerKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // Reads and writes Rubin's Zip format (`butler retrieve-artifacts --zip`, `butler ingest-zip`); zlib on Linux.
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // The C library, seen only by the FITS target.
        .systemLibrary(
            name: "CFITSIO",
            pkgConfig: "cfitsio",
            providers: [.apt(["libcfitsio-dev"])]
        ),
        // libpq, seen only by the PostgreSQL backend of the registry.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // A small S3 client (Signature Version 4, multipart uploads, retries) over Foundation's URLSession.
        // libcurl is named for static builds (`--static-swift-stdlib` links FoundationNetworking's archive, which needs it).
        .target(name: "S3", dependencies: [.product(name: "Crypto", package: "swift-crypto")], linkerSettings: [.linkedLibrary("curl")]),
        // The only Swift code that touches CFITSIO.
        .target(name: "FITS", dependencies: ["CFITSIO"]),
        // The library: repository, registry, datastore. No argument parsing, no printing.
        .target(
            name: "ButlerKit",
            dependencies: [
                "FITS",
                "CLibPQ",
                "S3",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, under GRDB: rows are read column by column without GRDB's value boxes.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            resources: [.copy("Resources")]
        ),
        // The command-line tool: parses, calls ButlerKit, prints.
        .executableTarget(
            name: "butler",
            dependencies: [
                "ButlerKit",
                "FITS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Writes synthetic raws for `make bench`.
        .executableTarget(name: "make-raws", dependencies: ["FITS"]),
        // A tiny two-step example pipeline for `make demo`.
        .executableTarget(name: "demo-step", dependencies: ["FITS"]),
        // Fills a large registry through ButlerKit for `make bench`; `--release` adds a data release's provenance.
        .executableTarget(name: "make-registry", dependencies: ["ButlerKit", .product(name: "Crypto", package: "swift-crypto")]),
        // Helpers shared by the test targets: temporary folders, fixtures, running the built binary.
        .target(name: "ButlerTestSupport", dependencies: ["ButlerKit", "S3"], path: "Tests/ButlerTestSupport"),
        .testTarget(name: "FITSTests", dependencies: ["FITS", "ButlerTestSupport"]),
        .testTarget(name: "ButlerKitTests", dependencies: ["ButlerKit", "FITS", "ButlerTestSupport"]),
        .testTarget(name: "ButlerCLITests", dependencies: ["ButlerKit", "ButlerTestSupport", "S3"]),
        .testTarget(name: "S3Tests", dependencies: ["S3", "ButlerTestSupport"]),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
