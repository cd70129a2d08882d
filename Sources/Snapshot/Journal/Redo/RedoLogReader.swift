import CSnapshotPlatform

/// Reads the batches of a redo log that lies in memory: the persistent-memory log in its mapping, or a
/// file's log read into a buffer. Positions are relative to the start of the log.
struct RedoLogReader {
  let base: UnsafeRawPointer
  let size: Int
  let salt: UInt64
  let lineCount: Int
  /// How the region's format checksums each line.
  let lineChecksum: RedoJournalLayout.LineChecksum
  /// The `skipChecksum` mutant: batches are believed without their checksum.
  var skipChecksum = false
  /// Whether the log grows only by a batch written at its start, as a log file does: a batch cut off
  /// by the end of the log anywhere else means the log was truncated, not torn by a crash.
  var growsOnlyFromStart = false

  /// What a scan of the log found.
  struct Scan {
    var batches: [RecoveryPlan.RedoBatch]
    /// Whether the scan ended at a torn batch of the next epoch: a commit interrupted by a crash.
    var interrupted: Bool

    /// What recovery does about it, starting from the commit with epoch `checkpoint`.
    func plan(checkpoint: UInt64) -> RecoveryPlan {
      if batches.isEmpty {
        return RecoveryPlan(work: interrupted ? .abandonInterruptedCommit : .nothing, epoch: checkpoint)
      }
      return RecoveryPlan(work: .replay(batches), epoch: batches.last!.epoch)
    }
  }

  enum Validation {
    case valid(RecoveryPlan.RedoBatch, size: Int)
    /// A batch of the expected epoch starts here but fails a check: a torn or corrupt batch.
    case torn
    /// A batch of the expected epoch starts here but would end `size` bytes past the end of the log.
    case cut(size: Int)
    /// No batch of the expected epoch starts here.
    case absent
  }

  @inline(__always)
  func word(at position: Int) -> UInt64 {
    UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt64.self))
  }

  /// The valid batches after the one with epoch `checkpoint`, in order from `start`, up to the first
  /// that is missing or fails its checks; and whether that one was a torn batch of the next epoch.
  ///
  /// A batch that fails its checksum is what a crash during its msync leaves behind, so it ends the
  /// replay. But no crash leaves a valid batch of a later epoch beyond it: that batch was written only
  /// after the one before it was durable, and every batch left over from before the checkpoint carries
  /// an epoch no later than the checkpoint's. So the rest of the log is searched for one, and finding
  /// it means the log was damaged: replaying up to the damage would silently drop acknowledged commits.
  func scan(after checkpoint: UInt64, from start: Int, path: String) throws(SnapshotError) -> Scan {
    var batches: [RecoveryPlan.RedoBatch] = []
    var position = start
    var expected = checkpoint + 1
    while true {
      let validation = validateBatch(at: position, epoch: expected)
      if case .valid(let batch, let size) = validation {
        batches.append(batch)
        position += size
        expected += 1
        continue
      }
      if let later = findBatch(after: expected - 1, from: position) {
        throw .damagedBeforeLaterCommit(
          path: path, epoch: expected, offset: position, laterEpoch: later.epoch, laterOffset: later.offset)
      }
      switch validation {
      case .valid, .absent:
        return Scan(batches: batches, interrupted: false)
      case .cut(let batchSize) where growsOnlyFromStart && position != start:
        throw .logCorrupt(
          path: path,
          reason: "the log ends inside redo batch \(expected) at log offset \(position), which needs \(batchSize) bytes: "
            + "the log file was truncated")
      case .torn, .cut:
        return Scan(batches: batches, interrupted: true)
      }
    }
  }

  /// Checks the batch at `position`: epoch and salt (without them no batch of this epoch starts here),
  /// then magic, counts, that it fits in the log, that its runs are in range and add up, and its
  /// checksum.
  func validateBatch(at position: Int, epoch: UInt64, lineLimit: Int? = nil) -> Validation {
    let lineCount = lineLimit ?? self.lineCount
    guard position >= 0, position + 64 <= size else { return .absent }
    guard word(at: position + 8) == epoch, word(at: position + 16) == salt else { return .absent }
    let first = word(at: position)
    guard UInt32(truncatingIfNeeded: first) == RedoJournalLayout.magic else { return .torn }
    let counts = word(at: position + 24)
    let lines = Int(counts & 0xFFFF_FFFF)
    let runCount = Int(counts >> 32)
    guard lines > 0, runCount > 0, runCount <= lines, lines <= lineCount else { return .torn }
    let head = RedoJournalLayout.headSize(runCount: runCount)
    let batchSize = head + 64 * lines
    guard batchSize <= size - position else { return .cut(size: batchSize) }

    var checksum = RedoJournalLayout.Checksum(.detected, lines: lineChecksum, epoch: epoch, salt: salt, countsWord: counts)
    var total = 0
    for run in 0..<runCount {
      let runWord = word(at: position + RedoJournalLayout.headerSize + run * 8)
      let firstLine = Int(runWord & 0xFFFF_FFFF)
      let count = Int(runWord >> 32)
      guard count > 0, firstLine + count <= lineCount else { return .torn }
      total += count
      checksum.add(word: runWord)
    }
    guard total == lines else { return .torn }
    checksum.add(lines: base + position + head, count: lines)
    guard checksum.value == UInt32(truncatingIfNeeded: first >> 32) || skipChecksum else { return .torn }
    return .valid(RecoveryPlan.RedoBatch(offset: position, epoch: epoch, lineCount: lines, runCount: runCount), size: batchSize)
  }

  /// The first valid batch at a line boundary from `position` on whose epoch is later than `epoch`.
  /// A line is a candidate only when it carries the salt, so the search costs one load per log line.
  /// A batch may name any line a region can have: one written after the region grew is evidence too,
  /// even where a damaged size record makes the region look smaller.
  func findBatch(after epoch: UInt64, from position: Int) -> (epoch: UInt64, offset: Int)? {
    for candidate in stride(from: position, to: size - 63, by: 64) where word(at: candidate + 16) == salt {
      let candidateEpoch = word(at: candidate + 8)
      guard candidateEpoch > epoch else { continue }
      if case .valid = validateBatch(at: candidate, epoch: candidateEpoch, lineLimit: RegionHeader.maximumDataSize / 64) {
        return (candidateEpoch, candidate)
      }
    }
    return nil
  }

  /// The highest line the valid batch at `position` names.
  func lastLine(ofBatchAt position: Int) -> Int {
    var last = 0
    forEachRun(ofBatchAt: position) { first, count, _ in last = max(last, first + count - 1) }
    return last
  }

  /// Calls `body(first line, line count, data position)` for each run of the valid batch at `position`.
  func forEachRun(ofBatchAt position: Int, _ body: (Int, Int, Int) -> Void) {
    let runCount = Int(word(at: position + 24) >> 32)
    var data = position + RedoJournalLayout.headSize(runCount: runCount)
    for run in 0..<runCount {
      let runWord = word(at: position + RedoJournalLayout.headerSize + run * 8)
      let count = Int(runWord >> 32)
      body(Int(runWord & 0xFFFF_FFFF), count, data)
      data += count * 64
    }
  }

  /// The newest logged version of each line of `batches` (oldest first): `body(first line, line count,
  /// data position)` for each run of lines not seen in a newer batch, newest batch first, or with
  /// `inAddressOrder` in the order of the lines' addresses. `visited` is all clear on entry and on return.
  ///
  /// `newer` (oldest first) are batches logged after `batches`: a line they hold is skipped, since its
  /// newest version is theirs.
  ///
  /// Address order writes each page of the home copy in one pass, so that a device that caches pages
  /// fetches it once, where batch order revisits it once per batch that changed it. It costs a sort of
  /// every run, which persistent memory does not repay (a checkpoint of a 64 MiB log of scattered lines
  /// took 6 times as long).
  func forEachNewestRun(
    of batches: ArraySlice<Int>, newer: ArraySlice<Int> = [], visited: LineBitmap, inAddressOrder: Bool = false,
    _ body: (Int, Int, Int) -> Void
  ) {
    var runs: [(first: Int, count: Int, data: Int)] = []
    // The words of `visited` this walk set bits in, to clear them after it without reading every
    // batch head of the log a second time.
    var touched: [Int] = []
    for index in newer.indices.reversed() {
      prefetchHead(of: newer, at: index - Self.headsAhead)
      forEachRun(ofBatchAt: newer[index]) { first, count, _ in visited.insert(first..<first + count, recordingClearWordsIn: &touched) }
    }
    for index in batches.indices.reversed() {
      prefetchHead(of: batches, at: index - Self.headsAhead)
      forEachRun(ofBatchAt: batches[index]) { first, count, data in
        var line = first
        while line < first + count {
          guard !visited.contains(line) else {
            line += 1
            continue
          }
          var end = line + 1
          while end < first + count, !visited.contains(end) { end += 1 }
          if inAddressOrder {
            runs.append((line, end - line, data + (line - first) * 64))
          } else {
            body(line, end - line, data + (line - first) * 64)
          }
          visited.insert(line..<end, recordingClearWordsIn: &touched)
          line = end
        }
      }
    }
    runs.sort { $0.first < $1.first }
    for run in runs { body(run.first, run.count, run.data) }
    visited.clearWords(touched)
  }

  /// How many batches ahead of the one being read the walk over batch heads prefetches. A head read back
  /// from a log much larger than the cache misses it (the log is written with non-temporal stores), and
  /// a walk that waited for each head in turn spent most of its time there: 82% of the search's
  /// samples on YCSB A.
  static var headsAhead: Int { 8 }

  /// Starts loading the head of `batches[index]`, if there is such a batch.
  @inline(__always)
  private func prefetchHead(of batches: ArraySlice<Int>, at index: Int) {
    guard batches.indices.contains(index) else { return }
    snapshot_prefetch(base + batches[index])
  }
}
