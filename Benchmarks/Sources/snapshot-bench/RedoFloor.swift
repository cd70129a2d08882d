import CSnapshotPlatform
import Foundation
import Snapshot

/// The medium's work alone of a redo log's msync, the least a failure-atomic msync that keeps data in
/// place and logs whole lines can cost here: every changed line must reach the medium twice (once
/// beside the data before the commit point, once home), and the commit point is one fence.
///
/// The caller changes a working copy in DRAM and names each changed range (`noteChange`). An msync
/// streams the changed lines, each once, into a sequential log on the medium behind a head holding
/// their line numbers (4 bytes each), and fences once. Every 64 MiB of log (a region's checkpoint
/// threshold), a checkpoint: every logged line read back and streamed home, oldest first, a fence,
/// an 8-byte checkpoint word (after the log) written back, a fence. No dirty-line bitmap, no
/// checksum, no run coalescing, no search for repeated lines: what Snapshot adds to this is software.
///
/// Without a home copy the floor is the commit's work alone: the log wraps at the threshold and
/// nothing is written home, as if the home writes cost the committing thread nothing (a redo
/// journal can leave them to another core, and write a line changed many times home once).
///
/// One thread at a time (`@unchecked Sendable` only to be handed to a benchmark thread).
final class RedoFloor: @unchecked Sendable {
  private let working: UnsafeRawPointer
  private let home: BarePersistentCopy?
  private let log: BarePersistentCopy
  private let logThreshold = 64 << 20
  /// Whether lines are streamed with one 64-byte store, as a region's persistent memory streams them
  /// on this machine (`CPUFeatures.streamInstruction`), or with four 16-byte stores.
  private let streamsWholeLines = CPUFeatures.current.streamInstruction == .avx512
  /// Where the next batch goes in the log.
  private var tail = 0
  /// The home line of each line logged since the last checkpoint, in log order; the head lines are
  /// not listed. Kept only with a home copy: without one, the checkpoint reads nothing back.
  private let logged: UnsafeMutablePointer<Int>
  /// The log offset of each entry of `logged`.
  private let loggedAt: UnsafeMutablePointer<Int>
  private var loggedCount = 0
  /// The lines changed since the last msync: each once while there are few (a round of the paper's
  /// benchmark, an update), and in the order noted, repeats kept, past that (a load's commit of
  /// thousands of lines; the checkpoint writes home oldest first, so a repeat costs a write, not
  /// correctness).
  private var lines: UnsafeMutablePointer<Int>
  private var lineCapacity = 64
  private var lineCount = 0
  private var head: UnsafeMutableRawPointer
  /// Nanoseconds spent in checkpoints so far.
  private(set) var checkpointNanoseconds: UInt64 = 0
  /// Bytes streamed or written back to the medium so far: heads, lines, home lines, checkpoint words.
  private(set) var bytesWritten = 0

  /// A floor for `working` (the caller's, `size` bytes), with its log in a new file at `logPath` on
  /// the medium, and its home copy at `homePath` (none when nil: the commit's work alone).
  init(working: UnsafeRawPointer, size: Int, homePath: String?, logPath: String) throws {
    self.working = working
    home = try homePath.map { try BarePersistentCopy(path: $0, size: size) }
    log = try BarePersistentCopy(path: logPath, size: logThreshold + (1 << 20))
    logged = .allocate(capacity: home == nil ? 0 : logThreshold / 64)
    loggedAt = .allocate(capacity: home == nil ? 0 : logThreshold / 64)
    lines = .allocate(capacity: lineCapacity)
    head = .allocate(byteCount: lineCapacity * 4, alignment: 64)
  }

  deinit {
    home?.release()
    log.release()
    logged.deallocate()
    loggedAt.deallocate()
    head.deallocate()
    lines.deallocate()
  }

  /// Notes that the `count` bytes at `offset` of the working copy changed.
  @inline(__always)
  func noteChange(at offset: Int, count: Int) {
    guard count > 0 else { return }
    for line in offset / 64...(offset + count - 1) / 64
    where lineCount > 64 || !UnsafeBufferPointer(start: lines, count: lineCount).contains(line) {
      if lineCount == lineCapacity { growLines() }
      lines[lineCount] = line
      lineCount += 1
    }
  }

  private func growLines() {
    let grown = UnsafeMutablePointer<Int>.allocate(capacity: lineCapacity * 2)
    grown.moveInitialize(from: lines, count: lineCount)
    lines.deallocate()
    lines = grown
    head.deallocate()
    lineCapacity *= 2
    head = .allocate(byteCount: lineCapacity * 4, alignment: 64)
  }

  /// Makes the lines changed since the last msync durable: a checkpoint first when the log is full,
  /// then the batch and its fence.
  @inline(__always)
  func msync() {
    if lineCount > 0 { commitBatch() }
  }

  private func commitBatch() {
    let batch = UnsafeBufferPointer(start: lines, count: lineCount)
    let headLines = (batch.count * 4 + 63) / 64
    let batchSize = (headLines + batch.count) * 64
    precondition(batchSize <= logThreshold, "a batch of \(batch.count) lines is larger than the floor's log")
    if tail + batchSize > logThreshold { checkpoint() }
    for (index, line) in batch.enumerated() {
      (head + index * 4).storeBytes(of: UInt32(line), as: UInt32.self)
    }
    for index in 0..<headLines {
      stream(log.base + tail, head + index * 64)
      tail += 64
    }
    for line in batch {
      stream(log.base + tail, working + line * 64)
      if home != nil {
        logged[loggedCount] = line
        loggedAt[loggedCount] = tail
        loggedCount += 1
      }
      tail += 64
    }
    snapshot_sfence()
    bytesWritten += batchSize
    lineCount = 0
  }

  /// Writes every logged line home from the log, oldest first, then the checkpoint word; without a
  /// home copy, only starts the log over.
  func checkpoint() {
    let start = nanoseconds()
    defer { checkpointNanoseconds += nanoseconds() - start }
    guard let home else {
      tail = 0
      return
    }
    for index in 0..<loggedCount {
      stream(home.base + logged[index] * 64, log.base + loggedAt[index])
    }
    snapshot_sfence()
    let word = log.base + logThreshold
    word.storeBytes(of: UInt64(tail), as: UInt64.self)
    writeBack(word, count: 8)
    snapshot_sfence()
    bytesWritten += loggedCount * 64 + 8
    loggedCount = 0
    tail = 0
  }

  @inline(__always)
  private func stream(_ destination: UnsafeMutableRawPointer, _ source: UnsafeRawPointer) {
    if streamsWholeLines { snapshot_stream_line_avx512(destination, source) } else { snapshot_stream_line(destination, source) }
  }
}
