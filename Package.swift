// swift-tools-version:6.1
import PackageDescription

let package = Package(
  name: "Snapshot",
  products: [
    .library(name: "Snapshot", targets: ["Snapshot"]),
    .executable(name: "snapshot", targets: ["snapshot"]),
    // The cache-line instructions the library uses, for benchmarks that compare against bare loops.
    .library(name: "CSnapshotPlatform", targets: ["CSnapshotPlatform"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
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
    // The checking machinery: tracing medium, crash simulator, mutants, kill loop, recovery fuzzer.
    .target(
      name: "SnapshotVerification",
      dependencies: [
        "Snapshot",
        .product(name: "SystemPackage", package: "swift-system"),
      ]
    ),
    // The command-line tool.
    .executableTarget(
      name: "snapshot",
      dependencies: [
        "Snapshot",
        "SnapshotVerification",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .testTarget(
      name: "SnapshotTests",
      dependencies: ["Snapshot", "SnapshotVerification", "snapshot"]
    ),
  ]
)
