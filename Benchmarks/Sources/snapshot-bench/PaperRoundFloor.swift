/// The paper's msync round with nothing but the medium's work of a redo log (`RedoFloor`), the least
/// a failure-atomic msync that keeps data in place can cost here.
///
/// A round: the three 512-byte copies into a working copy of 1 GiB in DRAM (huge pages, as a region's);
/// then its msync: the round's lines, each once, streamed into the floor's log, one fence; a
/// checkpoint every 64 MiB of log.
///
/// One thread at a time (`@unchecked Sendable` only to be handed to a benchmark thread).
final class PaperRoundFloor: @unchecked Sendable {
  private let working: AnonymousMapping
  private let floor: RedoFloor

  init(regionSize: Int, homePath: String, logPath: String) throws {
    working = AnonymousMapping(size: regionSize)
    floor = try RedoFloor(working: working.base, size: regionSize, homePath: homePath, logPath: logPath)
  }

  deinit {
    working.release()
  }

  /// Nanoseconds spent in checkpoints so far.
  var checkpointNanoseconds: UInt64 { floor.checkpointNanoseconds }

  /// Copies `source` to `offset` of the working copy. The first copy of a round starts it.
  func copy(_ source: UnsafeRawBufferPointer, to offset: Int) {
    (working.base + offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
    floor.noteChange(at: offset, count: source.count)
  }

  /// Makes the round's lines durable: a checkpoint first when the log is full, then the batch and
  /// its fence.
  func msync() { floor.msync() }

  /// Writes every logged line home from the log, oldest first, then the checkpoint word.
  func checkpoint() { floor.checkpoint() }
}
