// swift-tools-version:6.2
import CompilerPluginSupport
import PackageDescription

let package = Package(
  name: "Snapshot",
  products: [
    .library(name: "Snapshot", targets: ["Snapshot"]),
    .library(name: "SnapshotKV", targets: ["SnapshotKV"]),
    .executable(name: "snapshot", targets: ["snapshot"]),
    // @Persistent: opt-in, since building the macro builds swift-syntax.
    .library(name: "SnapshotPersistent", targets: ["SnapshotPersistent"]),
    // The cache-line instructions the library uses, for benchmarks that compare against bare loops.
    .library(name: "CSnapshotPlatform", targets: ["CSnapshotPlatform"]),
    // YCSB's workload generator, for the benchmarks.
    .library(name: "YCSB", targets: ["YCSB"]),
    // SQLite on Snapshot: the `snapshot` VFS, whose commit is one failure-atomic msync.
    .library(name: "SnapshotSQLite", targets: ["SnapshotSQLite"]),
    // The system's SQLite as a module, for programs that call its C API beside the VFS (the benchmarks).
    .library(name: "CSQLite", targets: ["CSQLite"]),
    // Replicated msync: commits shipped through a NATS JetStream stream, followers, failover.
    .library(name: "SnapshotReplication", targets: ["SnapshotReplication"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/swiftlang/swift-syntax", exact: "603.0.1"),
    // `swift package generate-documentation` for the DocC catalogs; a build tool only.
    .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    // For a test only: GRDB, unchanged, on the snapshot VFS.
    .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    // For SnapshotReplication only: the NATS client runs on SwiftNIO.
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
  ],
  targets: [
    // Machine instructions Swift cannot express, as static inline functions.
    .target(name: "CSnapshotPlatform"),
    // The core: regions, tracking, journals, media, recovery. No dependency beyond swift-system.
    .target(
      name: "Snapshot",
      dependencies: [
        "CSnapshotPlatform",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // The @Persistent macro's implementation (compiler plugin) and the library that declares it.
    .macro(
      name: "SnapshotMacros",
      dependencies: [
        .product(name: "SwiftSyntax", package: "swift-syntax"),
        .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
        .product(name: "SwiftSyntaxBuilder", package: "swift-syntax"),
        .product(name: "SwiftDiagnostics", package: "swift-syntax"),
        .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
      ]
    ),
    .target(name: "SnapshotPersistent", dependencies: ["Snapshot", "SnapshotMacros"]),
    // The persistent heap, the containers and the key-value store built on regions.
    .target(name: "SnapshotKV", dependencies: ["Snapshot"]),
    // YCSB's core workloads: distributions, key names, operation mix. No dependency.
    .target(name: "YCSB"),
    // The system's SQLite (Debian's libsqlite3-dev, which Scripts/setup installs).
    .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
    // SQLite's database files kept in regions: a VFS, and a connection to open through it.
    .target(name: "SnapshotSQLite", dependencies: ["Snapshot", "CSQLite"]),
    // Replication over NATS JetStream: a small NATS client, the JetStream API, primary and followers.
    .target(
      name: "SnapshotReplication",
      dependencies: [
        "Snapshot",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
      ]
    ),
    // The checking machinery: tracing medium, crash simulator, mutants, kill loop, recovery fuzzer.
    .target(
      name: "SnapshotVerification",
      dependencies: [
        "Snapshot",
        "SnapshotKV",
        "SnapshotSQLite",
        "YCSB",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // The command-line tool.
    .executableTarget(
      name: "snapshot",
      dependencies: [
        "Snapshot",
        "SnapshotKV",
        "SnapshotSQLite",
        "SnapshotVerification",
        "SnapshotReplication",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // Helpers the test targets share: temporary directories, running the `snapshot` command.
    .target(
      name: "SnapshotTestSupport",
      dependencies: [.product(name: "SystemPackage", package: "swift-system")],
      path: "Tests/SnapshotTestSupport"
    ),
    .testTarget(
      name: "SnapshotTests",
      dependencies: ["Snapshot", "SnapshotVerification", "SnapshotTestSupport", "snapshot"]
    ),
    // Counts the test process's heap allocations (it replaces malloc), to show what allocates nothing.
    .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
    .testTarget(
      name: "SnapshotKVTests", dependencies: ["Snapshot", "SnapshotKV", "SnapshotVerification", "SnapshotTestSupport", "CAllocationCounter"]),
    .testTarget(name: "SnapshotVerificationTests", dependencies: ["Snapshot", "SnapshotVerification", "SnapshotTestSupport", "snapshot"]),
    .testTarget(name: "SnapshotCLITests", dependencies: ["Snapshot", "SnapshotKV", "SnapshotTestSupport", "snapshot"]),
    .testTarget(name: "YCSBTests", dependencies: ["YCSB"]),
    .testTarget(
      name: "SnapshotReplicationTests",
      dependencies: [
        "Snapshot", "SnapshotKV", "SnapshotReplication", "SnapshotVerification", "SnapshotTestSupport", "snapshot",
        .product(name: "NIOCore", package: "swift-nio"),
      ]),
    .testTarget(name: "SnapshotSQLiteTests", dependencies: ["Snapshot", "SnapshotSQLite", "CSQLite", "SnapshotTestSupport"]),
    .testTarget(
      name: "SnapshotGRDBTests",
      dependencies: [
        "Snapshot", "SnapshotSQLite", "SnapshotTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]),
    .testTarget(
      name: "SnapshotMacrosTests",
      dependencies: [
        "SnapshotMacros",
        "SnapshotPersistent",
        .product(name: "SwiftSyntaxMacrosTestSupport", package: "swift-syntax"),
      ]
    ),
  ]
)
