/// A commit protocol: what happens on the first store to a line in an epoch, at msync, at discard and
/// at close. The region calls it; the journal writes to the medium.
protocol CommitJournal: AnyObject {
  /// The number of the last commit: 0 for a new region, one more with every msync that changed
  /// something.
  var epoch: UInt64 { get }

  /// Bytes written to the medium so far (log records and home copy), for write amplification.
  var bytesWritten: Int { get }

  /// The deliberate bugs the medium switches on (none in production).
  var faults: Fault { get }

  /// Called on the first store to `line` in an epoch, before the working copy changes.
  func lineWillChange(_ line: Int)

  /// Makes the working copy's `lines` durable as one atomic commit, numbered `epoch + 1`.
  /// `lines` lists each changed line once, in first-store order, and is not empty.
  func commit(_ lines: UnsafeBufferPointer<UInt32>) throws(SnapshotError)

  /// `commit(lines)` that calls `linesRead` as soon as it has read the lines from the working copy,
  /// possibly before the commit is durable: threads sharing the region may change it again from then
  /// on. `linesRead` is not called when the commit fails before that point.
  func commit(_ lines: UnsafeBufferPointer<UInt32>, linesRead: () -> Void) throws(SnapshotError)

  /// Copies the last committed contents of `lines` into the working copy and forgets what was logged
  /// for them since the last commit.
  func restore(_ lines: UnsafeBufferPointer<UInt32>, into working: UnsafeMutableRawPointer) throws(SnapshotError)

  /// Makes the home copy durable and retires the log, so that the next open has nothing to recover.
  func checkpoint() throws(SnapshotError)

  /// The data size the last commit made durable.
  var committedSize: Int { get }

  /// The next commit grows the region to `size` bytes (larger than `committedSize`): the new size
  /// becomes durable with it, atomically.
  func willGrow(to size: Int)

  /// The region returns to `committedSize`: the next commit does not grow it.
  func cancelGrowth()

  /// Told once, before any commit, that threads share the working copy: a line may change while a
  /// commit reads it (a store that races with msync), so each line must be checksummed exactly as it
  /// is written to the log.
  func workingCopyIsShared()

  /// Called before the file is let go of without a checkpoint, as a killed process would: work the
  /// journal handed to another core that writes to the file is waited for (or, where it would run
  /// later on this thread, dropped, as a kill would drop it).
  func stopBackgroundWork()
}

extension CommitJournal {
  func workingCopyIsShared() {}
  func stopBackgroundWork() {}

  func commit(_ lines: UnsafeBufferPointer<UInt32>, linesRead: () -> Void) throws(SnapshotError) {
    try commit(lines)
    linesRead()
  }
}

/// A journal whose home copy catches up at checkpoints, after the log has grown past a threshold.
protocol CheckpointingJournal: CommitJournal {
  /// Log bytes after which the next msync checkpoints first.
  var checkpointThreshold: Int { get set }

  /// The log bytes the batches since the last checkpoint take, and the bytes they may take before a
  /// batch that does not fit checkpoints first.
  var logSpace: (used: Int, capacity: Int) { get }
}

extension UnsafeBufferPointer<UInt32> {
  /// The changed lines as runs of consecutive lines, in list order. Lines stored one after another
  /// form one run without any sorting: the common sequential case coalesces for free.
  package var lineRuns: LineRuns { LineRuns(lines: self) }
}

/// Consecutive lines of a dirty-line list, merged into `(first, count)` runs.
package struct LineRuns: Sequence, IteratorProtocol {
  let lines: UnsafeBufferPointer<UInt32>
  var index = 0

  package mutating func next() -> (first: Int, count: Int)? {
    guard index < lines.count else { return nil }
    let first = lines[index]
    var count = 1
    index += 1
    while index < lines.count, lines[index] == first &+ UInt32(count) {
      count += 1
      index += 1
    }
    return (Int(first), count)
  }
}
