// swift-tools-version:6.1
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, whatever the clone is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// Benchmarks live in their own package so that the library never depends on what they compare against.
let package = Package(
  name: "SnapshotBenchmarks",
  dependencies: [
    .package(path: ".."),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
  ],
  targets: [
    // The systems compared against, from Debian's packages (./setup installs them).
    .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
    .systemLibrary(name: "CKyotoCabinet", pkgConfig: "kyotocabinet", providers: [.apt(["libkyotocabinet-dev"])]),
    .systemLibrary(name: "CPMDK", pkgConfig: "libpmemobj", providers: [.apt(["libpmemobj-dev"])]),
    .executableTarget(
      name: "snapshot-bench",
      dependencies: [
        "CLMDB",
        "CKyotoCabinet",
        "CPMDK",
        .product(name: "Snapshot", package: root),
        .product(name: "SnapshotKV", package: root),
        .product(name: "YCSB", package: root),
        .product(name: "CSnapshotPlatform", package: root),
        .product(name: "SnapshotSQLite", package: root),
        .product(name: "CSQLite", package: root),
        .product(name: "SnapshotReplication", package: root),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // Kept apart so that the other benchmarks do not build swift-syntax.
    .executableTarget(
      name: "persistent-bench",
      dependencies: [
        .product(name: "SnapshotPersistent", package: root),
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
  ]
)
