import Snapshot
import SystemPackage

extension Workload {
  /// A region that grows, by a page or two and by doubling, from 8 KiB with a log of one page: stores
  /// into old and new bytes committed with each grow, a grow with nothing else changed, a grow taken
  /// back by discard, a grow followed by a commit of every line (the log grows too), a process crash
  /// after a grow commit. Once, no space for the grow: msync must throw and change nothing, and its
  /// retry succeed. On a file, once, the grow's batch fails to be written after its size is recorded:
  /// the reopened region must hold the old size, and later commits and checkpoints must not revive the
  /// abandoned size.
  package static func regionGrowth(rounds: Int) -> Workload {
    var workload = Workload(name: "regions that grow", regionSize: 8192) { recorder, generator in
      func change(_ count: Int, from first: Int = 0) {
        let region = recorder.region
        for _ in 0..<count {
          let line = Int.random(in: first / 64..<region.size / 64, using: &generator)
          region.store(UInt64(recorder.operations) << 8 | 0xA7, at: line * 64 + 8 * Int.random(in: 0..<8, using: &generator))
          recorder.count()
        }
      }
      func grow() throws {
        let region = recorder.region
        let old = region.size
        try region.grow(to: Bool.random(using: &generator) ? old * 2 : old + 4096 * Int.random(in: 1...2, using: &generator))
        change(Int.random(in: 0...4, using: &generator), from: old)
      }
      for round in 0..<rounds {
        change(Int.random(in: 1...6, using: &generator))
        try recorder.msync()
        try grow()
        switch round % 5 {
        case 1:
          try recorder.discard()
          try grow()
        case 2:
          change(recorder.region.size / 64)  // more lines than the log holds
        case 3 where round == 3:
          // No space to grow: msync throws, having committed nothing, and can be retried. (The
          // checkpoint first rests the log, so the failure meets the grow, not a cut of the log.)
          try recorder.region.checkpoint()
          try recorder.msyncOutOfSpace(failing: .resize(.data), "to grow the region")
        default:
          break
        }
        try recorder.msync()
        change(Int.random(in: 1...3, using: &generator))
        try recorder.msync()
        if round % 3 == 2 { try recorder.crashAndReopen() }
        if round == 4, recorder.region.backing == .file {
          try recorder.region.checkpoint()
          try grow()
          recorder.fileFailures.arm(.write(.log), with: .ioError)
          do {
            try recorder.msync()
            recorder.fail("msync whose batch could not be written did not throw")
          } catch SnapshotError.commitFailed {
            if !recorder.fileFailures.disarm() { recorder.fail("msync of a grown region wrote no batch") }
          }
          try recorder.reopenAfterFailure()
          change(2)
          try recorder.msync()
          try recorder.region.checkpoint()
          change(1)
          try recorder.msync()
        }
      }
    }
    workload.logSize = 4096
    workload.grows = true
    return workload
  }
}
