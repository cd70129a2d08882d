/// Whether a checkpoint of a memory medium looks for each line's newest logged version, so that it
/// writes every line home once, or writes every logged run home, oldest batch first, so that a newer
/// version lands over an older one.
///
/// Looking costs a bit test and set per line and a second walk to clear the bits: on the paper's msync
/// benchmark (random lines of 1 GiB, hardly ever logged twice between checkpoints) about a fifth of
/// the msync. Not looking costs a line streamed home again for every repeat. So after two looks in a
/// row that find fewer than one logged line in eight repeated, checkpoints start to write every run:
/// one between the second look and the third, three after a third such look, then seven at most. A
/// look that finds more repeats starts over. A workload whose lines repeat (hot records) thus keeps
/// looking, even when its first checkpoint found none (a load writes every record once); one whose
/// lines start repeating pays, until the next look, what a workload that never repeats a line pays at
/// every checkpoint: a line home for every line logged.
///
/// Either way the home copy ends with each line's newest version, and recovery replays every batch
/// after the checkpoint over whatever a crash left: the choice changes what the checkpoint costs,
/// never what it leaves.
struct CheckpointDeduplication {
  /// The most checkpoints that write every run between two that look.
  static let longestSkip = 7

  /// Checkpoints left before the next one looks.
  private(set) var checkpointsUntilLook = 0
  /// The checkpoints the next look that finds few repeats lets skip.
  private(set) var nextSkip = 0

  /// Whether the next checkpoint looks for each line's newest version.
  var looks: Bool { checkpointsUntilLook == 0 }

  /// Whether the last two looks found few repeats: a chunk written home ahead of the checkpoint
  /// (`CheckpointAhead`) then has few lines to leave to the batches after it, and may go at once.
  var linesSeldomRepeat: Bool { nextSkip > 1 }

  /// Records a checkpoint: of `logged` lines in its batches (a line counted once per batch), it wrote
  /// `written` home.
  mutating func checkpointed(logged: Int, written: Int) {
    guard looks else {
      checkpointsUntilLook -= 1
      return
    }
    if (logged - written) * 8 < logged {
      checkpointsUntilLook = nextSkip
      nextSkip = min(2 * nextSkip + 1, Self.longestSkip)
    } else {
      nextSkip = 0
    }
  }
}
