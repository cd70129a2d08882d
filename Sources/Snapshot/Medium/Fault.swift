/// Deliberate bugs ("mutants") that the crash simulator must catch, each a known way to break a commit
/// protocol. A medium reports which are switched on. The production medium reports none, and since
/// journals are specialized for it, every check of a fault folds away in its code.
package struct Fault: OptionSet, Sendable, Hashable {
  package let rawValue: UInt32

  package init(rawValue: UInt32) {
    self.rawValue = rawValue
  }

  /// Log records are not written back before their fence: the redo batch head (stored instead of
  /// streamed), the undo metadata and active record.
  package static let dropLogFlush = Fault(rawValue: 1 << 0)
  /// The commit's ordering point is missing: the redo batch fence, the undo journal's first fence.
  package static let dropCommitFence = Fault(rawValue: 1 << 1)
  /// The undo journal does not fence the home copy before marking the log empty.
  package static let dropHomeFence = Fault(rawValue: 1 << 2)
  /// The record that retires the log (the redo checkpoint word, the undo empty mark) is not fenced
  /// before msync or checkpoint returns.
  package static let dropRetireFence = Fault(rawValue: 1 << 3)
  /// A checkpoint does not fence the home writes before it stores the checkpoint word.
  package static let dropCheckpointFence = Fault(rawValue: 1 << 4)
  /// The commit is marked complete before its payload is durable: the undo journal marks the log
  /// empty before copying home; a redo checkpoint stores its word before writing home.
  package static let commitBeforePayload = Fault(rawValue: 1 << 5)
  /// Recovery trusts log records without checking their checksums.
  package static let skipChecksum = Fault(rawValue: 1 << 6)
  /// Recovery does not retire the log after replaying or undoing it.
  package static let skipRetire = Fault(rawValue: 1 << 7)
  /// Recovery applies undo images oldest first.
  package static let undoForwardOrder = Fault(rawValue: 1 << 8)
  /// The redo checkpoint word (the log header, on files) is written in two halves instead of at once.
  package static let splitCommitWord = Fault(rawValue: 1 << 9)
  /// Files: msync does not `fdatasync` the log after appending its batch.
  package static let skipLogSync = Fault(rawValue: 1 << 10)
  /// Files: a checkpoint resets the log without first making the data file durable.
  package static let skipDataSync = Fault(rawValue: 1 << 11)
  /// Files: creating a region does not `fsync` the directory that holds its files.
  package static let skipDirectorySync = Fault(rawValue: 1 << 12)
  /// Threads: msync takes the changed lines without holding back changes on other threads (it neither
  /// waits for those in progress nor keeps new ones from starting).
  package static let commitDuringChanges = Fault(rawValue: 1 << 13)
  /// A log grown for a large batch is not made durable (its new length) before the batch is written.
  package static let skipLengthSync = Fault(rawValue: 1 << 14)
  /// A grown log is cut back to its resting size after the checkpoint's home writes, before the
  /// checkpoint word (on a file, the log header's reset) that retires its batches.
  package static let restLogBeforeCheckpoint = Fault(rawValue: 1 << 15)
  /// A grow's size record names the epoch before the commit that grows the region, so the new size
  /// holds even when that commit never becomes durable: the grow is not part of the commit.
  package static let growOutsideCommit = Fault(rawValue: 1 << 16)
  /// A grow on persistent memory does not zero the bytes the data takes over from the log.
  package static let skipGrowZeroing = Fault(rawValue: 1 << 17)
  /// Recovery leaves in place the size record of a grow whose commit never became durable.
  package static let keepAbandonedSize = Fault(rawValue: 1 << 18)
  /// A redo checkpoint that writes every logged run home (`CheckpointDeduplication`) takes the
  /// batches newest first, so that an older version of a line lands over a newer one.
  package static let checkpointNewestFirst = Fault(rawValue: 1 << 19)
  /// A redo checkpoint does not wait for the batches it handed to another core (`CheckpointAhead`)
  /// before writing the rest home and storing its word.
  package static let checkpointAheadNotAwaited = Fault(rawValue: 1 << 20)
}

extension MemoryMedium {
  /// No faults: the production behaviour.
  package var faults: Fault { [] }

  /// Writes back `[offset, offset + count)` unless log flushes are being dropped.
  @inline(__always)
  func flushLog(at offset: Int, count: Int) {
    if !faults.contains(.dropLogFlush) { flush(at: offset, count: count) }
  }

  /// Fences unless `fault` removes this fence.
  @inline(__always)
  func fence(unless fault: Fault) {
    if !faults.contains(fault) { fence() }
  }
}
