#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSnapshotPlatform
import Synchronization
import SystemPackage

/// The dirty-line tracking of a region shared by threads (``Region/Threads/many``).
///
/// - Store path: the bit test is the same as for one thread. The first store to a line sets its bit
///   with an atomic or (one per bitmap word a range covers); the thread appends the lines its or turned
///   on to its own `ThreadLineLog`, one append per word.
///   Nothing on this path is shared between threads but the bitmap word itself.
/// - Changes: a thread inside ``Region/change(_:)`` has published a nonzero depth. A commit raises the
///   commit word, then waits until every thread's depth is zero; a thread entering a change while the
///   word is raised steps back and waits. Both sides store, fence, then load (Dekker's pattern), so
///   either the commit sees the change and waits for it, or the change sees the commit and waits.
/// - Commit: with the word raised, the lines of every thread's log are taken into one list, the
///   journal commits them as one batch, and only then are exactly their bits cleared.
/// - Shared commits: each commit numbers itself just before it takes the lists, and publishes its
///   number once durable. An msync's ticket is the count of numbers given out; a commit numbered
///   above it took the caller's stores, so its completion is the msync's too.
final class ConcurrentLineTracker {
  let bitmap: LineBitmap
  /// Raised (nonzero) while a commit or discard waits for changes to end (`waitingForChanges`), then
  /// takes and writes the lines (`takingLines`); owned by the region.
  let commitWord: UnsafeMutablePointer<UInt64>
  static var waitingForChanges: UInt64 { 1 }
  /// A store seen in this phase raced with the commit: no change can be in progress.
  static var takingLines: UInt64 { 2 }
  private let lineCount: Int
  /// This tracker's number, never reused: the key of each thread's slot.
  let serial: UInt64
  /// False only for the crash simulator's mutant that commits during changes.
  private let waitsForChanges: Bool
  private let logs = Locked<[ThreadLineLog]>([])
  /// Word 0: how many commits have taken lines. Word 8 (a line of its own): the number of the last
  /// commit that completed; word 9: its epoch. How an msync finds a commit that covers its caller.
  private let sequence: UnsafeMutablePointer<UInt64>
  /// Every thread's lines, gathered for one commit.
  private let gathered: UnsafeMutablePointer<UInt32>
  private let gatheredMapping: MemoryMapping

  private static let serials = Atomic<UInt64>(0)

  init(bitmap: LineBitmap, lineCount: Int, commitWord: UnsafeMutablePointer<UInt64>, waitsForChanges: Bool = true) throws(Errno) {
    self.bitmap = bitmap
    self.waitsForChanges = waitsForChanges
    self.lineCount = lineCount
    self.commitWord = commitWord
    serial = Self.serials.add(1, ordering: .relaxed).newValue
    gatheredMapping = try .anonymous(length: lineCount * 4)
    gathered = gatheredMapping.base.bindMemory(to: UInt32.self, capacity: lineCount)
    sequence = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64).bindMemory(to: UInt64.self, capacity: 16)
    sequence.initialize(repeating: 0, count: 16)
  }

  deinit {
    gatheredMapping.unmap()
    UnsafeMutableRawPointer(sequence).deallocate()
  }

  /// The calling thread's log, registered on its first use. A thread-local slot answers without a lock.
  func currentLog() throws(Errno) -> ThreadLineLog {
    if let log = registeredLog() { return log }
    // Only this thread registers itself, so no other can have done it since the lookup.
    let log = try ThreadLineLog(thread: pthread_self(), lineCount: lineCount)
    logs.withLock { $0.append(log) }
    // The registry keeps the log alive as long as the region.
    snapshot_set_thread_slot(serial, Unmanaged.passUnretained(log).toOpaque())
    return log
  }

  /// The calling thread's log if it has one, without registering it.
  private func registeredLog() -> ThreadLineLog? {
    if let cached = snapshot_thread_slot(serial) {
      return Unmanaged<ThreadLineLog>.fromOpaque(cached).takeUnretainedValue()
    }
    let thread = pthread_self()
    guard let log = logs.withLock({ $0.first { pthread_equal($0.thread, thread) != 0 } }) else { return nil }
    snapshot_set_thread_slot(serial, Unmanaged.passUnretained(log).toOpaque())
    return log
  }

  /// The number of changed lines (a moment's view while threads store).
  var count: Int { logs.withLock { $0.reduce(0) { $0 + $1.count } } }

  // MARK: Changes

  /// Enters a change on the calling thread, waiting while a commit is running.
  func enterChange() -> ThreadLineLog {
    let log = currentLogOrTrap()
    if log.depth > 0 {
      // Already inside: no commit can be past its wait, so none can start taking lines.
      log.enter()
      return log
    }
    while true {
      log.enter()
      if snapshot_load_sequential(commitWord) == 0 { return log }
      log.leave()
      Self.wait { snapshot_load_relaxed(commitWord) == 0 }
    }
  }

  // MARK: Commits

  /// What the calling thread's msync needs: a commit numbered above the returned one. Every store of
  /// this thread made before the call is taken by any commit that takes lines after it. A
  /// read-modify-write, so that a commit numbering itself after it sees those stores.
  func ticket() -> UInt64 {
    snapshot_fetch_or(sequence, 0)
  }

  /// The epoch of a completed commit that took lines after `ticket` was issued, or nil while there is
  /// none. A commit's number is published only once it is durable.
  func epoch(covering ticket: UInt64) -> UInt64? {
    snapshot_load_acquire(sequence + 8) > ticket ? snapshot_load_relaxed(sequence + 9) : nil
  }

  /// Publishes that commit `number` (from `beginCommit`) is durable, with `epoch`.
  func completeCommit(_ number: UInt64, epoch: UInt64) {
    snapshot_store_relaxed(sequence + 9, epoch)
    snapshot_store_release(sequence + 8, number)
  }

  /// Raises the commit word and waits until no thread is inside a change; then takes every thread's
  /// lines. The caller holds the region's commit lock, commits or restores the lines, calls
  /// `clearBits(of:)` on success, and `endCommit()` in every case.
  func beginCommit() -> (number: UInt64, lines: UnsafeBufferPointer<UInt32>) {
    precondition(
      registeredLog().map { $0.depth == 0 } ?? true,
      "msync or discard inside Region.change: the commit would wait for its own change to end")
    if waitsForChanges { snapshot_store_sequential(commitWord, Self.waitingForChanges) }
    // Listed after the word is raised: a thread registered later sees the word when it enters a
    // change, and its lines go to the next commit.
    let all = logs.withLock { $0 }
    if waitsForChanges {
      for log in all where log.isInsideChange {
        Self.wait { !log.isInsideChange }
      }
      snapshot_store_release(commitWord, Self.takingLines)
    }
    // Numbered before any list is taken: an msync that got a lower ticket had finished its stores.
    let number = snapshot_load_relaxed(sequence) + 1
    _ = snapshot_exchange(sequence, number)
    var count = 0
    for log in all {
      let lines = log.take()
      (gathered + count).update(from: lines.baseAddress!, count: lines.count)
      count += lines.count
    }
    return (number, UnsafeBufferPointer(start: gathered, count: count))
  }

  /// Clears the bits of `lines`, a word at a time where lines share one.
  func clearBits(of lines: UnsafeBufferPointer<UInt32>) {
    var word = -1
    var mask: UInt64 = 0
    for line in lines {
      let index = Int(line) &>> 6
      if index != word {
        if mask != 0 { snapshot_clear_bits(bitmap.words + word, mask) }
        word = index
        mask = 0
      }
      mask |= 1 &<< UInt64(line & 63)
    }
    if mask != 0 { snapshot_clear_bits(bitmap.words + word, mask) }
  }

  /// After a commit failed before it read the lines: they stay changed (their bits are still set)
  /// and go back to the calling thread's log, for the next msync.
  func restoreLines(_ lines: UnsafeBufferPointer<UInt32>) {
    let log = currentLogOrTrap()
    for line in lines { log.append(Int(line)) }
  }

  /// After a commit failed once changes had resumed: the lines are marked changed again, each listed
  /// by this thread unless another thread's store marked it meanwhile.
  func remark(_ lines: UnsafeBufferPointer<UInt32>) {
    let log = currentLogOrTrap()
    for line in lines { log.mark(first: Int(line), last: Int(line), in: bitmap.words) }
  }

  /// The calling thread's log; traps when the memory for a new one cannot be had, since the store
  /// path cannot throw.
  func currentLogOrTrap() -> ThreadLineLog {
    do {
      return try currentLog()
    } catch {
      preconditionFailure("cannot allocate this thread's list of changed lines: \(error)")
    }
  }

  func endCommit() {
    snapshot_store_release(commitWord, 0)
  }

  /// Spins briefly, then yields the processor, until `done` holds.
  private static func wait(until done: () -> Bool) {
    var backoff = Backoff(spins: 128)
    while !done() { backoff.pause() }
  }

  /// Checks that every set bit is listed exactly once in some thread's current list. Only while no
  /// thread stores.
  func _checkInvariants() {
    bitmap._checkInvariants(listed: logs.withLock { $0.flatMap(\.lines) }, lineCount: lineCount)
  }
}
