import Foundation
import Snapshot
import SystemPackage

/// A commit larger than the redo log's resting size: every line of a 256 MiB region in one msync, with
/// the default log (64 MiB, which grows for the batch and is cut back at the next checkpoint) against a
/// log sized for a commit of every line (what format 1 allocated up front). The msync of the grown log
/// pays for allocating, mapping and syncing the new length; the checkpoint after it, for the cut.
struct LogGrowthBenchmark {
  let workspace: Workspace
  let repetitions: Int
  let regionSize = 256 << 20

  func run(into report: inout BenchmarkReport) throws {
    printProgress("log growth: msync of every line of a 256 MiB region, resting log against a log for every line")
    var results: [(name: String, msync: Double, checkpoint: Double, file: Int)] = []
    for (name, logSize) in [("default log (64 MiB, grows)", nil), ("log for every line", regionSize * 2)] as [(String, Int?)] {
      let path = workspace.file("growth-\(results.count)")
      let region = try Region.create(at: FilePath(path), size: regionSize, options: .init(backing: .persistentMemory, logSize: logSize))
      let file = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
      var msyncs: [Double] = [], checkpoints: [Double] = []
      for round in 0..<repetitions {
        region.fill(UInt8(truncatingIfNeeded: round + 1), at: 0, count: regionSize)
        var start = nanoseconds()
        try region.msync()
        msyncs.append(Double(nanoseconds() - start))
        start = nanoseconds()
        try region.checkpoint()
        checkpoints.append(Double(nanoseconds() - start))
      }
      try region.close()
      results.append((name, median(msyncs), median(checkpoints), file))
    }
    let (grown, full) = (results[0], results[1])
    report.add("log growth", "msync of every line of 256 MiB, \(grown.name)", grown.msync / 1e6, unit: "ms",
               baseline: ("\(full.name)", full.msync / 1e6))
    report.add("log growth", "checkpoint after it, \(grown.name)", grown.checkpoint / 1e6, unit: "ms",
               baseline: ("\(full.name)", full.checkpoint / 1e6))
    report.add("log growth", "file size of a fresh 256 MiB region, \(grown.name)", Double(grown.file) / Double(1 << 20), unit: "MiB",
               baseline: ("\(full.name)", Double(full.file) / Double(1 << 20)))
  }
}
