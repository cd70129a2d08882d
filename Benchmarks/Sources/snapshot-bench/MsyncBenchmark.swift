import CSnapshotPlatform
import Foundation
import Snapshot
import SystemPackage

/// msync of k dirty lines, for both journals, against the least any durable copy can cost: a bare loop
/// that copies the same lines into a persistent-memory file, writes each back and fences once.
struct MsyncBenchmark {
  let workspace: Workspace
  let repetitions: Int
  let regionSize = 256 << 20
  let counts = [1, 8, 64, 512, 4096]

  func run(into report: inout BenchmarkReport) throws {
    printProgress("msync: 256 MiB regions, k random dirty lines")
    let bare = try BarePersistentCopy(path: workspace.file("bare"), size: regionSize)
    defer { bare.release() }
    let spread = SpreadLines(lineCount: regionSize / 64)
    var results: [Region.Journal: [Int: Double]] = [:]
    var bareResults: [Int: Double] = [:]
    var bareTwoLines: [Double] = []

    for journal in [Region.Journal.redo, .undo] {
      let region = try Region.create(
        at: FilePath(workspace.file("msync-\(journal)")), size: regionSize, options: .init(backing: .persistentMemory, journal: journal))
      var next = 0
      for k in counts {
        let iterations = max(50, 40_000 / k)
        var msyncTimes: [Double] = [], bareTimes: [Double] = []
        for _ in 0..<repetitions {
          var msyncTotal: UInt64 = 0, bareTotal: UInt64 = 0
          for _ in 0..<iterations {
            let lines = (0..<k).map { spread.line(next + $0) }
            next += k
            for line in lines { region.store(UInt64(next), at: line * 64) }
            let start = nanoseconds()
            try region.msync()
            msyncTotal += nanoseconds() - start
            bareTotal += region.withUnsafeBytes { bare.persist(lines: lines, from: $0.baseAddress!) }
          }
          msyncTimes.append(Double(msyncTotal) / Double(iterations))
          bareTimes.append(Double(bareTotal) / Double(iterations))
        }
        results[journal, default: [:]][k] = median(msyncTimes)
        bareResults[k] = min(bareResults[k] ?? .infinity, median(bareTimes))
      }
      if journal == .redo {
        for _ in 0..<repetitions {
          var total: UInt64 = 0
          for iteration in 0..<10_000 {
            let line = spread.line(iteration)
            total += region.withUnsafeBytes { bare.persist(lines: [line, line ^ 1], from: $0.baseAddress!) }
          }
          bareTwoLines.append(Double(total) / 10_000)
        }
      }
      try region.close()
    }

    let sustained = try sustainedMsync(bare: bare, spread: spread)

    for journal in [Region.Journal.redo, .undo] {
      let group = "msync (\(journal))"
      for k in counts {
        let value = results[journal]![k]!
        if k == 1 {
          report.add(group, "msync of 1 dirty line", value / 1000, unit: "us",
                     baseline: ("bare copy of 2 lines + flush + 1 fence", median(bareTwoLines) / 1000), maxRatio: 2)
        } else {
          report.add(group, "msync of \(k) dirty lines", value / 1000, unit: "us",
                     baseline: ("bare copy + flush + 1 fence", bareResults[k]! / 1000), maxRatio: k >= 64 ? 1.3 : nil)
        }
      }
      report.add(group, "sustained msync of \(sustainedLines) lines, mean including checkpoints", sustained.msync[journal]! / 1000,
                 unit: "us", baseline: ("bare copy + flush + 1 fence", sustained.bare / 1000), maxRatio: 1.3)
    }
  }

  let sustainedLines = 512

  /// A run long enough for the redo journal to checkpoint several times (its log passes the checkpoint
  /// threshold again and again), so that the mean per msync carries the deferred home writes too.
  private func sustainedMsync(bare: BarePersistentCopy, spread: SpreadLines) throws -> (msync: [Region.Journal: Double], bare: Double) {
    let iterations = 4 * (64 << 20) / (sustainedLines * 64) + 100
    printProgress("sustained msync: \(iterations) msyncs of \(sustainedLines) random lines per journal")
    var msync: [Region.Journal: Double] = [:]
    var bareTotal: UInt64 = 0
    for journal in [Region.Journal.redo, .undo] {
      let region = try Region.create(
        at: FilePath(workspace.file("sustained-\(journal)")), size: regionSize, options: .init(backing: .persistentMemory, journal: journal))
      var total: UInt64 = 0
      for iteration in 0..<iterations {
        let lines = (0..<sustainedLines).map { spread.line(iteration * sustainedLines + $0) }
        for line in lines { region.store(UInt64(iteration), at: line * 64) }
        let start = nanoseconds()
        try region.msync()
        total += nanoseconds() - start
        if journal == .redo {
          bareTotal += region.withUnsafeBytes { bare.persist(lines: lines, from: $0.baseAddress!) }
        }
      }
      let start = nanoseconds()
      try region.checkpoint()  // the home writes still owed belong to the run too
      total += nanoseconds() - start
      try region.close()
      msync[journal] = Double(total) / Double(iterations)
    }
    return (msync, Double(bareTotal) / Double(iterations))
  }
}

/// A shared mapping of a persistent-memory file, written the simplest durable way.
struct BarePersistentCopy {
  let base: UnsafeMutableRawPointer
  let size: Int

  init(path: String, size: Int) throws {
    let descriptor = open(path, O_RDWR | O_CREAT, 0o644)
    precondition(descriptor >= 0, "cannot create \(path)")
    defer { close(descriptor) }
    precondition(posix_fallocate(descriptor, 0, off_t(size)) == 0, "cannot allocate \(path)")
    let address = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)!
    precondition(address != MAP_FAILED)
    memset(address, 0, size)
    base = address
    self.size = size
  }

  /// Copies each line to the same offset, writes it back, fences once; returns the nanoseconds taken.
  func persist(lines: [Int], from source: UnsafeRawPointer) -> UInt64 {
    let start = nanoseconds()
    for line in lines {
      let destination = base + line * 64
      destination.copyMemory(from: source + line * 64, byteCount: 64)
      writeBack(destination, count: 64)
    }
    snapshot_sfence()
    return nanoseconds() - start
  }

  func release() {
    munmap(base, size)
  }
}
