/// What recovery found on open and what it did about it.
public struct RecoveryReport: Sendable, Equatable, CustomStringConvertible {
  /// The kinds of work recovery does.
  public enum Outcome: Sendable, Equatable {
    /// The region was closed cleanly (or crashed with nothing in flight): nothing to do.
    case clean
    /// A commit was interrupted after it began changing the home copy; its undo images restored the
    /// previous commit.
    case rolledBack(lines: Int)
    /// A commit was interrupted before it could change the home copy; the previous commit stands.
    case abandonedIncompleteCommit
    /// Committed batches whose home writes may not have been durable were replayed.
    case replayed(commits: Int, lines: Int)
  }

  /// What recovery did.
  public var outcome: Outcome
  /// The epoch of the commit the region holds after recovery.
  public var epoch: UInt64
  /// How long reading, checking and applying the log took.
  public var duration: Duration = .zero

  public var description: String {
    switch outcome {
    case .clean:
      return "clean: nothing to recover, epoch \(epoch)"
    case .rolledBack(let lines):
      return "rolled back an interrupted commit (\(lines) lines restored), epoch \(epoch)"
    case .abandonedIncompleteCommit:
      return "abandoned an interrupted commit that had not reached the home copy, epoch \(epoch)"
    case .replayed(let commits, let lines):
      return "replayed \(commits) committed batch\(commits == 1 ? "" : "es") (\(lines) lines), epoch \(epoch)"
    }
  }
}

/// What recovery will do, worked out by reading the durable copy only. `verify` and `info` stop here;
/// open applies it.
struct RecoveryPlan: Sendable {
  enum Work: Sendable {
    case nothing
    /// A commit was interrupted before it reached the home copy; nothing needs replaying or undoing.
    /// An undo log is retired; a torn redo batch is simply overwritten by the next commit.
    case abandonInterruptedCommit
    /// Undo entries `0..<entryCount` in reverse, then retire the log.
    case undo(entryCount: Int)
    /// Replay these batches in order, then checkpoint.
    case replay([RedoBatch])
  }

  /// A valid batch found in the redo log.
  struct RedoBatch: Sendable {
    var offset: Int
    var epoch: UInt64
    var lineCount: Int
    var runCount: Int
  }

  var work: Work
  /// The epoch the region holds once the work is done.
  var epoch: UInt64
  /// The region's data size at that epoch, when it grew since its creation (`SizeRecords`).
  var dataSize: Int?
  /// A size record whose grow never became durable: recovery clears it before anything is committed.
  var abandonedSizeSlot: Int?

  var report: RecoveryReport {
    switch work {
    case .nothing:
      return RecoveryReport(outcome: .clean, epoch: epoch)
    case .undo(let entryCount):
      return RecoveryReport(outcome: .rolledBack(lines: entryCount), epoch: epoch)
    case .abandonInterruptedCommit:
      return RecoveryReport(outcome: .abandonedIncompleteCommit, epoch: epoch)
    case .replay(let batches):
      let lines = batches.reduce(0) { $0 + $1.lineCount }
      return RecoveryReport(outcome: .replayed(commits: batches.count, lines: lines), epoch: epoch)
    }
  }
}
