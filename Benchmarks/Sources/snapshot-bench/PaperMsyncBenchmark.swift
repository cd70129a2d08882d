import Foundation
import Snapshot
import YCSB
import SystemPackage

/// The Snapshot paper's msync microbenchmark: three 512-byte copies to random offsets of a 1 GiB region,
/// then msync. The published artifact takes 2.09 us per msync on this kind of machine.
struct PaperMsyncBenchmark {
  let workspace: Workspace
  let rounds: Int
  let repetitions: Int
  let regionSize = 1 << 30

  func run(into report: inout BenchmarkReport) throws {
    printProgress("paper msync microbenchmark: 3 random 512-byte copies into 1 GiB, then msync, \(rounds) rounds")
    let source = (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37) }
    let floor = try measureFloor(source)
    report.add(floorGroup, "msync: the round's lines streamed to a log, one fence (mean, with checkpoints)", floor.msync / 1000, unit: "us")
    report.add(floorGroup, "of which the checkpoints: the same lines streamed home", floor.checkpoint / 1000, unit: "us")
    report.add(floorGroup, "whole round (copies + msync)", floor.round / 1000, unit: "us")
    for journal in [Region.Journal.redo, .undo] {
      let region = try Region.create(
        at: FilePath(workspace.file("paper-\(journal)")), size: regionSize, options: .init(backing: .persistentMemory, journal: journal))
      let writtenBefore = region.bytesWritten
      let times = try timeRounds(source, copy: { region.copy(from: $0, to: $1) }, msync: { try region.msync() })
      // The home writes still owed at the end belong to the run too.
      let checkpointStart = nanoseconds()
      try region.checkpoint()
      let closing = Double(nanoseconds() - checkpointStart) / Double(rounds * repetitions)
      let writtenPerRound = Double(region.bytesWritten - writtenBefore) / Double(rounds * repetitions)
      try region.close()
      let group = "paper msync benchmark (\(journal))"
      report.add(group, "msync after 3 random 512-byte copies (mean, with checkpoints)", (times.msync + closing) / 1000,
                 unit: "us", baseline: ("the medium's work alone", floor.msync / 1000), maxValue: 0.5)
      report.add(group, "whole round (copies + msync)", (times.round + closing) / 1000, unit: "us",
                 baseline: ("the medium's work alone", floor.round / 1000))
      // What a round costs the medium: 1,536 bytes changed, in 24-27 lines.
      let fences = journal == .redo ? "one fence per msync, two per checkpoint" : "three fences per msync"
      report.add(group, "bytes written per round to the medium, log and home (\(fences))", writtenPerRound, unit: "B")
    }
  }

  private let floorGroup = "paper msync benchmark (the medium's work alone: PaperRoundFloor)"

  /// The same rounds (the same offsets) on `PaperRoundFloor`: nanoseconds per msync and per round,
  /// medians of the repetitions, with the last checkpoint's share; and the mean checkpoint share of
  /// an msync.
  private func measureFloor(_ source: [UInt8]) throws -> (msync: Double, round: Double, checkpoint: Double) {
    let floor = try PaperRoundFloor(
      regionSize: regionSize, homePath: workspace.file("paper-floor-home"), logPath: workspace.file("paper-floor-log"))
    let times = timeRounds(source, copy: { floor.copy($0, to: $1) }, msync: { floor.msync() })
    let checkpointStart = nanoseconds()
    floor.checkpoint()
    let closing = Double(nanoseconds() - checkpointStart) / Double(rounds * repetitions)
    return (times.msync + closing, times.round + closing, Double(floor.checkpointNanoseconds) / Double(rounds * repetitions))
  }

  /// Runs the rounds `repetitions` times: three copies of `source` to random offsets (the same
  /// offsets for every caller), then `msync`. Medians of the repetitions' nanoseconds per msync and
  /// per round.
  private func timeRounds(
    _ source: [UInt8], copy: (UnsafeRawBufferPointer, Int) -> Void, msync: () throws -> Void
  ) rethrows -> (msync: Double, round: Double) {
    var generator = RandomSource(seed: 2023)
    var perMsync: [Double] = [], perRound: [Double] = []
    for _ in 0..<repetitions {
      var msyncTotal: UInt64 = 0
      let roundStart = nanoseconds()
      for _ in 0..<rounds {
        source.withUnsafeBytes { bytes in
          for _ in 0..<3 { copy(bytes, Int(generator.next() % UInt64(regionSize - 512))) }
        }
        let start = nanoseconds()
        try msync()
        msyncTotal += nanoseconds() - start
      }
      perRound.append(Double(nanoseconds() - roundStart) / Double(rounds))
      perMsync.append(Double(msyncTotal) / Double(rounds))
    }
    return (median(perMsync), median(perRound))
  }
}
