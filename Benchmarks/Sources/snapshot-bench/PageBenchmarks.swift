import Foundation
import Snapshot
import YCSB
import SystemPackage

/// Page-granular tracking: the cost of the first write to each page with 200,000 random pages written in
/// one epoch, and the write amplification of line against page tracking.
struct PageBenchmarks {
  let workspace: Workspace
  let repetitions: Int

  func run(into report: inout BenchmarkReport) throws {
    try firstWrites(into: &report)
    try writeAmplification(into: &report)
  }

  /// 200,000 random pages of a 1 GiB region, one byte each, then msync; the same for line tracking.
  private func firstWrites(into report: inout BenchmarkReport) throws {
    let size = 1 << 30
    let pages = 200_000
    printProgress("page tracking: \(pages) random pages of a 1 GiB region in one epoch")
    let spread = SpreadLines(lineCount: size / 4096)
    let offsets = (0..<pages).map { spread.line($0) * 4096 + 8 }
    var results: [Region.Tracking: (write: Double, msync: Double)] = [:]
    for tracking in Region.Tracking.allCases {
      let path = FilePath(workspace.file("pages-\(tracking)"))
      let region = try Region.create(at: path, size: size, options: .init(backing: .persistentMemory, tracking: tracking))
      var writes: [Double] = [], msyncs: [Double] = []
      for round in 0..<max(2, repetitions / 2) {
        let start = nanoseconds()
        for offset in offsets { region.store(UInt64(round + 1), at: offset) }
        writes.append(Double(nanoseconds() - start) / Double(pages))
        let commit = nanoseconds()
        try region.msync()
        msyncs.append(Double(nanoseconds() - commit))
      }
      try region.close()
      let reopened = try Region.open(at: path)
      guard offsets.allSatisfy({ reopened.load(UInt64.self, at: $0) == UInt64(max(2, repetitions / 2)) }) else {
        throw BaselineError(description: "page tracking lost a write")
      }
      try reopened.close()
      workspace.clear()
      results[tracking] = (median(writes), median(msyncs))
    }
    report.add("page tracking", "first write to a page (200,000 random pages of 1 GiB)", results[.pages]!.write, unit: "ns",
               baseline: ("line tracking, first store to a line", results[.lines]!.write))
    report.add("page tracking", "msync of those 200,000 pages", results[.pages]!.msync / 1e6, unit: "ms",
               baseline: ("line tracking, 200,000 lines", results[.lines]!.msync / 1e6))
  }

  /// Bytes written to the medium (log and home, checkpoints included) per byte changed, for random
  /// 8-byte updates with msync every 1, 10 and 100 updates.
  private func writeAmplification(into report: inout BenchmarkReport) throws {
    printProgress("write amplification: random 8-byte updates of a 64 MiB region")
    let updates = 3000
    for every in [1, 10, 100] {
      var amplification: [Region.Tracking: Double] = [:]
      for tracking in Region.Tracking.allCases {
        let region = try Region.create(
          at: FilePath(workspace.file("amplification-\(tracking)")), size: 64 << 20,
          options: .init(backing: .persistentMemory, tracking: tracking))
        var generator = RandomSource(seed: 9)
        for update in 1...updates {
          region.store(generator.next(), at: Int(generator.next() % UInt64((64 << 20) / 8)) * 8)
          if update % every == 0 { try region.msync() }
        }
        try region.checkpoint()
        amplification[tracking] = Double(region.bytesWritten) / Double(updates * 8)
        try region.close()
        workspace.clear()
      }
      report.add("write amplification", "page tracking, msync every \(every) update\(every == 1 ? "" : "s")",
                 amplification[.pages]!, unit: "bytes written per byte changed",
                 baseline: ("line tracking", amplification[.lines]!), minRatio: every == 1 ? 20 : nil)
    }
  }
}
