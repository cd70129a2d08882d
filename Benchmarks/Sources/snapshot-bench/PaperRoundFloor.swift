import CSnapshotPlatform
import Foundation
import Snapshot
import YCSB

/// The paper's msync round with nothing but the medium's work of a redo log, the least a
/// failure-atomic msync that keeps data in place can cost here: every changed line must reach the
/// medium twice (once beside the data before the commit point, once home), and the commit point is
/// one fence.
///
/// A round: the three 512-byte copies into a working copy of 1 GiB in DRAM (huge pages, as a region's);
/// then its msync: the round's lines, each once, streamed into a sequential log on the medium behind
/// a head holding their line numbers (4 bytes each), one fence. Every 64 MiB of log (a region's
/// checkpoint threshold), a checkpoint: every logged line read back and streamed home, a fence, an
/// 8-byte checkpoint word (after the log) written back, a fence. No tracking, no checksum, no run coalescing, no
/// search for repeated lines: what Snapshot adds to this is software.
///
/// One thread at a time (`@unchecked Sendable` only to be handed to a benchmark thread).
final class PaperRoundFloor: @unchecked Sendable {
  private let working: UnsafeMutableRawPointer
  private let home: BarePersistentCopy
  private let log: BarePersistentCopy
  private let regionSize: Int
  private let logThreshold = 64 << 20
  /// Whether lines are streamed with one 64-byte store, as a region's persistent memory streams them
  /// on this machine (`CPUFeatures.streamInstruction`), or with four 16-byte stores.
  private let streamsWholeLines = CPUFeatures.current.streamInstruction == .avx512
  /// Where the next batch goes in the log.
  private var tail = 0
  /// The home line of each line logged since the last checkpoint, in log order; the head lines are
  /// not listed.
  private let logged: UnsafeMutablePointer<Int>
  /// The log offset of each entry of `logged`.
  private let loggedAt: UnsafeMutablePointer<Int>
  private var loggedCount = 0
  /// The distinct lines of the round so far.
  private let lines: UnsafeMutablePointer<Int>
  private var lineCount = 0
  private let head: UnsafeMutableRawPointer
  /// Nanoseconds spent in checkpoints so far.
  private(set) var checkpointNanoseconds: UInt64 = 0

  init(regionSize: Int, homePath: String, logPath: String) throws {
    self.regionSize = regionSize
    let address = mmap(nil, regionSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
    precondition(address != MAP_FAILED, "cannot map a working copy of \(regionSize) bytes")
    _ = madvise(address, regionSize, MADV_HUGEPAGE)
    memset(address, 0, regionSize)
    working = address
    home = try BarePersistentCopy(path: homePath, size: regionSize)
    log = try BarePersistentCopy(path: logPath, size: logThreshold + (1 << 20))
    logged = .allocate(capacity: logThreshold / 64)
    loggedAt = .allocate(capacity: logThreshold / 64)
    lines = .allocate(capacity: 64)
    head = .allocate(byteCount: 256, alignment: 64)
  }

  deinit {
    munmap(working, regionSize)
    home.release()
    log.release()
    logged.deallocate()
    loggedAt.deallocate()
    head.deallocate()
    lines.deallocate()
  }

  /// Copies `source` to `offset` of the working copy. The first copy of a round starts it.
  func copy(_ source: UnsafeRawBufferPointer, to offset: Int) {
    (working + offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
    for line in offset / 64...(offset + source.count - 1) / 64
    where !UnsafeBufferPointer(start: lines, count: lineCount).contains(line) {
      lines[lineCount] = line
      lineCount += 1
    }
  }

  /// Makes the round's lines durable: a checkpoint first when the log is full, then the batch and
  /// its fence.
  func msync() {
    let round = UnsafeBufferPointer(start: lines, count: lineCount)
    let headLines = (round.count * 4 + 63) / 64
    if tail + (headLines + round.count) * 64 > logThreshold { checkpoint() }
    for (index, line) in round.enumerated() {
      (head + index * 4).storeBytes(of: UInt32(line), as: UInt32.self)
    }
    for index in 0..<headLines {
      stream(log.base + tail, head + index * 64)
      tail += 64
    }
    for line in round {
      stream(log.base + tail, working + line * 64)
      logged[loggedCount] = line
      loggedAt[loggedCount] = tail
      loggedCount += 1
      tail += 64
    }
    snapshot_sfence()
    lineCount = 0
  }

  /// Writes every logged line home from the log, oldest first, then the checkpoint word.
  func checkpoint() {
    let start = nanoseconds()
    defer { checkpointNanoseconds += nanoseconds() - start }
    for index in 0..<loggedCount {
      stream(home.base + logged[index] * 64, log.base + loggedAt[index])
    }
    snapshot_sfence()
    let word = log.base + logThreshold
    word.storeBytes(of: UInt64(tail), as: UInt64.self)
    writeBack(word, count: 8)
    snapshot_sfence()
    loggedCount = 0
    tail = 0
  }

  @inline(__always)
  private func stream(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer) {
    if streamsWholeLines { snapshot_stream_line_avx512(destination, source) } else { snapshot_stream_line(destination, source) }
  }
}
