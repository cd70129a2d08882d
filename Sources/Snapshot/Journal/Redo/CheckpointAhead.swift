import Dispatch
import SystemPackage
import Synchronization

/// Writes committed batches home on another core, ahead of the checkpoint that retires them, so that
/// the checkpoint left on the commit path writes only the batches committed since the last hand-off.
///
/// Safe whenever a crash comes: a batch is handed off only once its commit's fence is behind it, and
/// recovery replays every batch after the checkpoint word over the home copy, so a home line that
/// already holds a version from such a batch ends as if it did not. What must hold is order, and the
/// journal keeps it:
/// - the checkpoint waits for the chunk in flight before it writes the rest home (a newer version of
///   a line must land after an older one) and before its checkpoint word (which claims every line home);
/// - a chunk ends with a fence of its own, because a fence orders only the stores of the core that
///   runs it; a wait that returns has seen that fence done.
///
/// The log's format and recovery are those of a checkpoint that writes every batch itself.
///
/// A medium that traces its writes for the crash simulator (`MemoryMedium.runsHandedOffWorkInline`)
/// runs the chunks on the committing thread, alternately at the two ends of their possible timing: at
/// once when handed off, and as late as possible, when the checkpoint waits for them.
final class CheckpointAhead<Medium: MemoryMedium>: @unchecked Sendable {
  // `@unchecked Sendable`: a chunk's fields are written only while no chunk is in flight, and read by
  // the worker only between the hand-off that starts it and the completion that the waiter acquires.
  private let medium: Medium
  /// The worker's own scratch bits for `forEachNewestRun`, all clear between chunks.
  private let written: LineBitmap
  private var chunk: [Int] = []
  /// Batches logged after the chunk, whose lines it leaves to a later chunk or the checkpoint.
  private var newer: [Int] = []
  private var header: RegionHeader
  private var deduplicating = true
  /// Lines the chunk in flight wrote home, read once it completed.
  private var chunkLines = 0
  /// Lines the chunks completed since the last `wait` wrote home.
  private var linesWritten = 0
  private var inFlight = false
  /// Chunks handed off, and chunks whose writes are complete and fenced.
  private var handedOff = 0
  private let completed = Atomic<Int>(0)
  private let finished = DispatchSemaphore(value: 0)
  /// Inline schedule: the chunk in flight runs when it is waited for.
  private var deferred = false

  init(medium: Medium, header: RegionHeader, lineCount: Int) throws(Errno) {
    self.medium = medium
    self.header = header
    written = try LineBitmap(lineCount: lineCount)
    chunk.reserveCapacity(1024)
    newer.reserveCapacity(1024)
  }

  /// Chunks handed off so far, for tests.
  var chunksHandedOff: Int { handedOff }

  /// Whether a chunk may be handed off: none is in flight, or the one in flight has completed.
  var isIdle: Bool {
    guard inFlight else { return true }
    guard completed.load(ordering: .acquiring) == handedOff else { return false }
    finish()
    return true
  }

  /// Starts writing home the committed `batches` (log positions, oldest first) of the log `header`
  /// describes, but, `deduplicating`, the lines that the `newer` batches hold. No chunk may be in
  /// flight.
  func handOff(_ batches: ArraySlice<Int>, newer: ArraySlice<Int>, header: RegionHeader, deduplicating: Bool) {
    precondition(!inFlight, "a chunk is already in flight")
    chunk.removeAll(keepingCapacity: true)
    chunk.append(contentsOf: batches)
    self.newer.removeAll(keepingCapacity: true)
    self.newer.append(contentsOf: newer)
    self.header = header
    self.deduplicating = deduplicating
    inFlight = true
    handedOff += 1
    if Medium.runsHandedOffWorkInline {
      if handedOff % 2 == 1 { writeChunk() } else { deferred = true }
      return
    }
    DispatchQueue.global(qos: .userInitiated).async { self.writeChunk() }
  }

  /// Waits for the chunk in flight, if any; returns the lines written home by the chunks completed
  /// since the last call.
  func wait() -> Int {
    if inFlight {
      if deferred {
        deferred = false
        writeChunk()
      }
      finish()
    }
    defer { linesWritten = 0 }
    return linesWritten
  }

  private func finish() {
    finished.wait()
    inFlight = false
    linesWritten += chunkLines
  }

  /// Forgets a chunk that has not run yet (inline schedule) or waits for it: the file is about to be
  /// let go of without a checkpoint, as a killed process would.
  func abandon() {
    if deferred {
      deferred = false
      inFlight = false
    }
    _ = wait()
  }

  private func writeChunk() {
    chunkLines = MemoryRedoJournal<Medium>.writeHome(
      batches: chunk[...], newer: newer[...], medium: medium, header: header, written: written, deduplicating: deduplicating)
    completed.store(handedOff, ordering: .releasing)
    finished.signal()
  }
}
