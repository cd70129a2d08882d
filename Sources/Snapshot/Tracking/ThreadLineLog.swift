#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSnapshotPlatform
import SystemPackage

/// One thread's part of a shared region's dirty-line list: the lines whose bit this thread set, and
/// whether the thread is inside a change (``Region/change(_:)``).
///
/// Only the owning thread appends, so the store path shares nothing with other threads. msync takes
/// the lines from every thread: two lists alternate, and one exchange of the list word hands msync the
/// full list and the owner an empty one. An append that loses the race with that exchange retries on
/// the new list; the entry it left behind lies past the count msync took and is never read.
///
/// Each list holds at most one entry per line: a line is appended when its bit goes from 0 to 1, and
/// only msync clears bits, after taking the lists.
final class ThreadLineLog {
  /// The thread this log belongs to; a thread that reuses a finished thread's identifier takes over
  /// its log.
  let thread: pthread_t
  /// Word 0: the change depth of the owner (0 outside ``Region/change(_:)``). Word 8 (on its own cache
  /// line): which list is current (bit 63) and how many lines it holds.
  private let control: UnsafeMutablePointer<UInt64>
  private let lists: UnsafeMutablePointer<UInt32>
  private let lineCount: Int
  private let mapping: MemoryMapping

  private static let listBit: UInt64 = 1 << 63

  init(thread: pthread_t, lineCount: Int) throws(Errno) {
    self.thread = thread
    self.lineCount = lineCount
    mapping = try .anonymous(length: 128 + 2 * 4 * lineCount)
    control = mapping.base.bindMemory(to: UInt64.self, capacity: 16)
    lists = (mapping.base + 128).bindMemory(to: UInt32.self, capacity: 2 * lineCount)
  }

  deinit {
    mapping.unmap()
  }

  private var depthWord: UnsafeMutablePointer<UInt64> { control }
  private var listWord: UnsafeMutablePointer<UInt64> { control + 8 }

  /// The list a list word names, and the number of lines it holds.
  @inline(__always)
  private func list(_ word: UInt64) -> (start: UnsafeMutablePointer<UInt32>, count: Int) {
    (word & Self.listBit == 0 ? lists : lists + lineCount, Int(truncatingIfNeeded: word & ~Self.listBit))
  }

  /// Sets the bits of `first...last` in `bitmap`; each line whose bit this call turned on is appended.
  /// Called by the owner only.
  ///
  /// One atomic or per bitmap word, and one append per word for the lines it turned on: a locked
  /// instruction waits for every earlier store to leave the store buffer, so one per line would make
  /// a 512-byte copy wait out the cache misses of the copy before it eight times over.
  @inline(__always)
  func mark(first: Int, last: Int, in bitmap: UnsafeMutablePointer<UInt64>) {
    var line = first
    while line <= last {
      let index = line &>> 6
      let end = min(last, index &<< 6 | 63)
      // The bits of `line...end`, all in word `index`.
      let mask = (UInt64.max &>> UInt64(63 &- end & 63)) & (UInt64.max &<< UInt64(line & 63))
      let word = bitmap + index
      let unset = mask & ~snapshot_load_relaxed(word)
      if unset != 0 {
        let turnedOn = unset & ~snapshot_fetch_or(word, unset)
        if turnedOn != 0 { append(turnedOn, ofWord: index) }
      }
      line = end &+ 1
    }
  }

  /// Records that this thread set the bits `bits` of bitmap word `index`, one line per bit. Called by
  /// the owner only.
  @inline(__always)
  func append(_ bits: UInt64, ofWord index: Int) {
    while true {
      let word = snapshot_load_relaxed(listWord)
      let (start, count) = list(word)
      var remaining = bits
      var added = 0
      while remaining != 0 {
        start[count &+ added] = UInt32(truncatingIfNeeded: index &<< 6 | remaining.trailingZeroBitCount)
        added &+= 1
        remaining &= remaining &- 1
      }
      if snapshot_compare_exchange(listWord, word, word &+ UInt64(added)) { return }
    }
  }

  /// Records that this thread set `line`'s bit. Called by the owner only.
  @inline(__always)
  func append(_ line: Int) {
    append(1 &<< UInt64(line & 63), ofWord: line &>> 6)
  }

  /// The number of lines in the current list (a moment's view while the owner appends).
  var count: Int { list(snapshot_load_relaxed(listWord)).count }

  /// The current list, for checking invariants while no thread stores.
  var lines: UnsafeBufferPointer<UInt32> {
    let (start, count) = list(snapshot_load_acquire(listWord))
    return UnsafeBufferPointer(start: start, count: count)
  }

  /// Hands the current list to the caller and gives the owner the other, empty one. Only one caller at
  /// a time (msync holds the region's commit lock); the buffer stays valid until the next call.
  func take() -> UnsafeBufferPointer<UInt32> {
    let current = snapshot_load_relaxed(listWord) & Self.listBit
    let (start, count) = list(snapshot_exchange(listWord, current ^ Self.listBit))
    return UnsafeBufferPointer(start: start, count: count)
  }

  /// The owner's change depth; nonzero while it is inside ``Region/change(_:)``. For the owner.
  var depth: UInt64 { snapshot_load_relaxed(depthWord) }

  /// Whether the owner is inside a change, for a commit on another thread: a sequentially consistent
  /// load, the other half of `enter()`'s store and fence; when it says no, every store of the
  /// owner's last change is visible.
  var isInsideChange: Bool { snapshot_load_sequential(depthWord) != 0 }

  /// Enters a change: publishes the depth with a full fence, so that a commit that starts later sees
  /// it, and this thread sees a commit that started earlier.
  func enter() {
    snapshot_store_sequential(depthWord, snapshot_load_relaxed(depthWord) + 1)
  }

  /// Leaves a change: every store made inside it is visible to the commit that sees the depth drop.
  func leave() {
    snapshot_store_release(depthWord, snapshot_load_relaxed(depthWord) - 1)
  }
}
