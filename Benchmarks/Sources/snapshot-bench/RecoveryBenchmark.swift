import ArgumentParser
import Foundation
import Snapshot
import SystemPackage

/// Recovery of the redo journal: a region left with many committed batches whose home writes were never
/// checkpointed (as a crash leaves it), reopened; throughput is data lines replayed per second.
struct RecoveryBenchmark {
  let workspace: Workspace
  let repetitions: Int
  let regionSize = 256 << 20

  func run(into report: inout BenchmarkReport) throws {
    printProgress("recovery: 256 MiB redo region with uncheckpointed batches")
    let path = workspace.file("recovery")
    let crashed = workspace.file("recovery-crashed")
    let region = try Region.create(at: FilePath(path), size: regionSize, options: .init(backing: .persistentMemory))
    let spread = SpreadLines(lineCount: regionSize / 64)
    var next = 0
    for _ in 0..<6 {
      for _ in 0..<300_000 {
        region.store(UInt64(next), at: spread.line(next) * 64)
        next += 1
      }
      try region.msync()
    }
    // The file as a crash now would leave it: the batches since the last checkpoint (which the log's
    // threshold forced after the first few), never checkpointed.
    let image = try Data(contentsOf: URL(fileURLWithPath: path))
    try region.close()

    var rates: [Double] = []
    var lines = 0
    for _ in 0..<repetitions {
      try? FileManager.default.removeItem(atPath: crashed)
      try image.write(to: URL(fileURLWithPath: crashed))
      let recovered = try Region.open(at: FilePath(crashed))
      guard case .replayed(_, let replayed) = recovered.recovery.outcome else {
        throw ValidationError("expected a replay, got \(recovered.recovery)")
      }
      lines = replayed
      let seconds = Double(recovered.recovery.duration.components.attoseconds) / 1e18 + Double(recovered.recovery.duration.components.seconds)
      rates.append(Double(replayed * 64) / seconds / 1e9)
      try recovered.close()
    }
    report.add("recovery (redo)", "replay of \(lines) lines (\((lines * 64) >> 20) MiB of log data)", median(rates), unit: "GB/s", minValue: 1)
  }
}
