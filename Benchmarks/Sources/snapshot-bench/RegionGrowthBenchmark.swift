import Foundation
import Snapshot
import SnapshotKV
import SystemPackage
import YCSB

/// Regions that grow, on persistent memory: the commit that grows a 1 GiB region to 2 GiB; the same
/// 64 MiB grow of a 64 MiB and of a 1 GiB region (equal times: a grow never copies the data already
/// there); and a key-value store loaded with YCSB records from its default 1 MiB, against one created
/// at the size the first ended at (load rate, and the file against the heap's bytes in use).
struct RegionGrowthBenchmark {
  let workspace: Workspace
  let repetitions: Int
  let records: Int

  func run(into report: inout BenchmarkReport) throws {
    printProgress("region growth: a 1 GiB region grown to 2 GiB, \(repetitions) times")
    let doubling = try (0..<repetitions).map { _ in try growCommit(from: 1 << 30, to: 2 << 30) }
    report.add("region growth", "grow 1 GiB to 2 GiB and msync (the commit that grows it)", median(doubling) / 1e6, unit: "ms")
    printProgress("region growth: 64 MiB more for a 64 MiB and for a 1 GiB region")
    let small = try (0..<repetitions).map { _ in try growCommit(from: 64 << 20, to: 128 << 20) }
    let large = try (0..<repetitions).map { _ in try growCommit(from: 1 << 30, to: (1 << 30) + (64 << 20)) }
    report.add("region growth", "grow 1 GiB by 64 MiB and msync", median(large) / 1e6, unit: "ms",
               baseline: ("grow 64 MiB by 64 MiB and msync", median(small) / 1e6), maxRatio: 1.5)

    printProgress("region growth: \(records) YCSB records loaded into a store from its default size")
    let grown = try load(size: nil)
    printProgress("region growth: the same records into a store created at \(grown.size >> 20) MiB")
    let sized = try load(size: grown.size)
    report.add("region growth", "load of \(records) records (one commit each), store grown from 1 MiB", grown.rate, unit: "records/s",
               baseline: ("store created at its final size", sized.rate), minRatio: 0.9)
    // The store created at its final size allocated its file before the load; the grown one allocates
    // during it. Counting the creation in both compares the time to a store holding the records.
    report.add("region growth", "creation and load of \(records) records, store grown from 1 MiB", grown.rateWithCreation, unit: "records/s",
               baseline: ("store created at its final size", sized.rateWithCreation), minRatio: 0.9)
    report.add("region growth", "files less the resting log, over the heap's bytes in use (grown store)",
               Double(grown.fileBytes - grown.restingLog) / Double(grown.usedBytes), unit: "x", maxValue: 1.4)
    report.add("region growth", "region size of the grown store", Double(grown.size) / Double(1 << 20), unit: "MiB",
               baseline: ("heap bytes in use", Double(grown.usedBytes) / Double(1 << 20)))
  }

  /// Nanoseconds for `grow(to:)` and the msync that commits it, on a region of `size` bytes that holds
  /// data and whose log rests.
  private func growCommit(from size: Int, to newSize: Int) throws -> Double {
    let path = FilePath(workspace.file("grow"))
    let region = try Region.create(at: path, size: size, options: .init(backing: .persistentMemory))
    region.fill(0x5A, at: 0, count: size)
    try region.msync()
    try region.checkpoint()
    let start = nanoseconds()
    try region.grow(to: newSize)
    region.store(UInt64(1), at: newSize - 8)
    try region.msync()
    let elapsed = Double(nanoseconds() - start)
    try region.close()
    workspace.clear()
    return elapsed
  }

  private struct Load {
    var rate: Double
    var rateWithCreation: Double
    var size: Int
    var fileBytes: Int
    var restingLog: Int
    var usedBytes: Int
  }

  /// Loads the records, one autocommitted put each, into a store of `size` bytes (nil: the default).
  private func load(size: Int?) throws -> Load {
    let path = FilePath(workspace.file("store"))
    let value = (0..<CoreWorkload.fieldCount * CoreWorkload.fieldLength).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    let keys = (0..<records).map { Array(CoreWorkload.keyName(Int64($0)).utf8) }
    let created = nanoseconds()
    let store = try SnapshotKV.create(at: path, size: size, backing: .persistentMemory, index: .ordered)
    let start = nanoseconds()
    for key in keys { try store.put(key, value) }
    let end = nanoseconds()
    let seconds = Double(end - start) / 1e9
    let files = store.region.fileSizes!
    let result = Load(
      rate: Double(records) / seconds, rateWithCreation: Double(records) / (Double(end - created) / 1e9), size: store.region.size, fileBytes: files.data + files.log,
      restingLog: store.region.restingLogSize, usedBytes: store.statistics.usedBytes)
    try store.close()
    workspace.clear()
    return result
  }
}
