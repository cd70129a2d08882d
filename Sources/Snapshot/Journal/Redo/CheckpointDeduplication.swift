/// Whether a checkpoint of a memory medium looks for each line's newest logged version, so that it
/// writes every line home once, or writes every logged run home, oldest batch first, so that a newer
/// version lands over an older one.
///
/// Looking costs a bit test and set per line and a second walk to clear the bits: on the paper's msync
/// benchmark (random lines of 1 GiB, hardly ever logged twice between checkpoints) about a quarter of
/// the msync. Not looking costs a line streamed home again for every repeat. So a checkpoint that
/// looks and finds fewer than one logged line in eight repeated lets the next `checkpointsSkipped`
/// write every run, and the one after them looks again: a workload whose lines repeat (hot records)
/// keeps looking, and one that changes the pattern pays at most one-eighth more home writes until
/// the next look, or a log's worth for `checkpointsSkipped` checkpoints.
///
/// Either way the home copy ends with each line's newest version, and recovery replays every batch
/// after the checkpoint over whatever a crash left: the choice changes what the checkpoint costs,
/// never what it writes last.
struct CheckpointDeduplication {
  /// Checkpoints that write every run after one that found few repeats.
  static let checkpointsSkipped = 2

  /// Checkpoints left before the next one looks again.
  private(set) var checkpointsUntilLook = 0

  /// Whether the next checkpoint looks for each line's newest version.
  var looks: Bool { checkpointsUntilLook == 0 }

  /// Records a checkpoint: of `logged` lines in its batches (a line counted once per batch), it wrote
  /// `written` home.
  mutating func checkpointed(logged: Int, written: Int) {
    if looks {
      if (logged - written) * 8 < logged { checkpointsUntilLook = Self.checkpointsSkipped }
    } else {
      checkpointsUntilLook -= 1
    }
  }
}
