import CSnapshotPlatform
import Foundation
import Snapshot
import YCSB
import SystemPackage

/// Regions on an ordinary file: msync latency against a bare pwrite + fdatasync of the same bytes, and
/// one-change-per-commit rates against LMDB and Kyoto Cabinet, all on the same file system.
struct FileBenchmarks {
  let directory: String
  let repetitions: Int
  let counts = [1, 8, 64, 512]

  func run(into report: inout BenchmarkReport) throws {
    try msyncLatency(into: &report)
    try commitRate(into: &report)
  }

  /// Median latency of msync with k random dirty lines, and of pwrite + fdatasync of k * 64 bytes
  /// appended to a preallocated file, as the log is.
  private func msyncLatency(into report: inout BenchmarkReport) throws {
    printProgress("file msync latency in \(directory)")
    let path = FilePath("\(directory)/msync.region")
    let region = try Region.create(at: path, size: 64 << 20, options: .init(backing: .file))
    defer {
      try? region.close()
      for file in [path.string, path.string + "-log", "\(directory)/bare"] { try? FileManager.default.removeItem(atPath: file) }
    }
    let bare = try BareFile(path: "\(directory)/bare", size: 64 << 20)
    defer { bare.close() }
    let spread = SpreadLines(lineCount: (64 << 20) / 64)
    var next = 0
    for k in counts {
      var msyncTimes: [Double] = [], bareTimes: [Double] = []
      let iterations = max(60, 600 / repetitions)
      for _ in 0..<repetitions * iterations {
        for index in 0..<k { region.store(UInt64(next), at: spread.line(next + index) * 64) }
        next += k
        let start = nanoseconds()
        try region.msync()
        msyncTimes.append(Double(nanoseconds() - start))
        bareTimes.append(try bare.appendAndSync(count: k * 64))
      }
      let group = "file msync"
      report.add(group, "msync of \(k) dirty line\(k == 1 ? "" : "s") (median)", median(msyncTimes) / 1000, unit: "us",
                 baseline: ("bare pwrite + fdatasync of \(k * 64) bytes", median(bareTimes) / 1000), maxRatio: k <= 64 ? 1.2 : nil)
    }
  }

  /// Commits per second, one 100-byte change per commit, for Snapshot on a file, LMDB and Kyoto
  /// Cabinet, each run in turn `repetitions` times; the median rate of each.
  private func commitRate(into report: inout BenchmarkReport) throws {
    printProgress("one 100-byte change per commit in \(directory)")
    let commits = 400
    let value = [UInt8](repeating: 0xAB, count: 100)
    var rates: (snapshot: [Double], lmdb: [Double], kyoto: [Double]) = ([], [], [])
    // Snapshot on a file as a store of 1,000 fixed 128-byte slots.
    let region = try Region.create(at: FilePath("\(directory)/commits.region"), size: 1000 * 128, options: .init(backing: .file))
    let lmdb = try LMDBEngine(directory: "\(directory)/commits.lmdb", mapSize: 256 << 20)
    let kyoto = try KyotoEngine(path: "\(directory)/commits", mapSize: 64 << 20)
    defer {
      try? region.close()
      lmdb.close()
      kyoto.close()
      for file in ["commits.region", "commits.region-log", "commits.lmdb", "commits.kct", "commits.kct.wal"] {
        try? FileManager.default.removeItem(atPath: "\(directory)/\(file)")
      }
    }
    var generator = RandomSource(seed: 100)
    for _ in 0..<repetitions {
      rates.snapshot.append(try measure(commits: commits, value: value, generator: &generator) { key, value in
        region.copy(from: value, to: Int(key) * 128)
        try region.msync()
      })
      for (engine, name) in [(lmdb as KeyValueEngine, "lmdb"), (kyoto, "kyoto")] {
        let rate = try measure(commits: commits, value: value, generator: &generator) { key, value in
          try withUnsafeBytes(of: key) { try engine.insert($0, value) }
          try engine.commit()
        }
        if name == "lmdb" { rates.lmdb.append(rate) } else { rates.kyoto.append(rate) }
      }
    }
    let ours = median(rates.snapshot)
    report.add("file commits", "Snapshot on a file, commits per second (vs LMDB)", ours, unit: "commits/s",
               baseline: ("LMDB (default durable flags)", median(rates.lmdb)), minRatio: 2)
    report.add("file commits", "Snapshot on a file, commits per second (vs Kyoto Cabinet)", ours, unit: "commits/s",
               baseline: ("Kyoto Cabinet TreeDB (hard transactions)", median(rates.kyoto)), minRatio: 4)
  }

  /// Commits per second of `commits` puts of `value` under random keys below 1,000, one commit each.
  private func measure(
    commits: Int, value: [UInt8], generator: inout RandomSource, _ put: (UInt64, UnsafeRawBufferPointer) throws -> Void
  ) throws -> Double {
    let start = nanoseconds()
    for _ in 0..<commits {
      let key = generator.next() % 1000
      try value.withUnsafeBytes { try put(key, $0) }
    }
    return Double(commits) / (Double(nanoseconds() - start) / 1e9)
  }
}

/// A preallocated file that `pwrite`s are appended to, each followed by `fdatasync`.
final class BareFile {
  private let descriptor: Int32
  private let size: Int
  private var offset = 0
  private let buffer = [UInt8](repeating: 0x5A, count: 1 << 20)

  init(path: String, size: Int) throws {
    descriptor = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { throw BaselineError(description: "cannot create \(path)") }
    self.size = size
    // Written, not only allocated, as the log is, so that a sync flushes data and no extent changes.
    var written = 0
    while written < size {
      written += buffer.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, min($0.count, size - written), off_t(written)) }
    }
    fsync(descriptor)
  }

  /// Appends `count` bytes and syncs; returns the nanoseconds taken.
  func appendAndSync(count: Int) throws -> Double {
    if offset + count > size { offset = 0 }
    let start = nanoseconds()
    let written = buffer.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, count, off_t(offset)) }
    guard written == count, fdatasync(descriptor) == 0 else { throw BaselineError(description: "pwrite or fdatasync failed") }
    offset += count
    return Double(nanoseconds() - start)
  }

  func close() {
    Glibc.close(descriptor)
  }
}
