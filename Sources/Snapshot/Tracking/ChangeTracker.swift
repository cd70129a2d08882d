import CSnapshotPlatform
import SystemPackage

/// Which lines of the working copy changed since the last msync, however they are found: the dirty-line
/// bitmap the store path tests, the list of changed lines (one thread at a time) or each thread's log
/// (threads sharing the region), and page tracking. The region holds one and hands its lines to the
/// journal at msync and discard; the store path's slow half lives here.
///
/// A handle over memory the region owns, as swift-collections' `_UnsafeHandle`: copying it copies
/// references, never the tracking state.
@usableFromInline
struct ChangeTracker {
  /// One bit per line, set from a line's first store in an epoch until msync or discard takes it.
  @usableFromInline let bitmap: UnsafeMutablePointer<UInt64>
  /// What a commit is doing, for the store path to check: 0 idle, `ConcurrentLineTracker`'s phases
  /// while msync or discard runs, `closed` once the region is closed.
  @usableFromInline let commitWord: UnsafeMutablePointer<UInt64>
  /// The changed lines in first-store order, when one thread at a time uses the region.
  let lines: DirtyLineTracker
  /// The tracking of a region shared by threads; nil for one thread at a time.
  let shared: ConcurrentLineTracker?
  /// `shared`'s serial number, or 0.
  private let sharedSerial: UInt64
  /// Page tracking, when the region was opened with it.
  let pages: PageTracker?
  /// Told of each line before its first change in an epoch.
  private let journal: any CommitJournal

  /// The commit word of a closed region: a first store then traps.
  static var closed: UInt64 { 3 }

  /// The tracking of the region at `path`, of up to `lineCount` lines, whose working copy is `working`
  /// (reserved for that many lines), of which the first `size` bytes are in use.
  init(
    path: String, lineCount: Int, working: MemoryMapping, size: Int, tracking: Region.Tracking, threads: Region.Threads,
    journal: any CommitJournal
  ) throws(SnapshotError) {
    let commitWord = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    commitWord.initialize(to: 0)
    do throws(SnapshotError) {
      lines = try SnapshotError.allocating(path) { () throws(Errno) in try DirtyLineTracker(lineCount: lineCount) }
      let bitmap = lines.bitmap
      shared = threads == .many
        ? try SnapshotError.allocating(path) { () throws(Errno) in
            try ConcurrentLineTracker(
              bitmap: bitmap, lineCount: lineCount, commitWord: commitWord,
              waitsForChanges: !journal.faults.contains(.commitDuringChanges))
          }
        : nil
      pages = tracking == .pages
        ? try SnapshotError.step(path, "start page tracking") { () throws(Errno) in
            try PageTracker(base: working.base, length: size, capacity: working.length)
          }
        : nil
    } catch {
      commitWord.deallocate()
      throw error
    }
    self.commitWord = commitWord
    self.bitmap = lines.bitmap.words
    self.sharedSerial = shared?.serial ?? 0
    self.journal = journal
    if shared != nil { journal.workingCopyIsShared() }
  }

  /// Frees the commit word; the trackers go with the last reference to them.
  func deallocate() {
    commitWord.deallocate()
  }

  /// The number of lines changed by tracked stores (a moment's view while threads store).
  var count: Int { shared?.count ?? lines.count }

  /// Whether anything was written since the last msync.
  var hasChanges: Bool { count > 0 || pages?.dirtyPages.isEmpty == false }

  /// Whether an msync now would certainly find nothing to commit: one thread at a time, no page
  /// tracking (whose dirty pages msync turns into lines), and no line changed. A grow marks a line.
  var hasNothingToCommit: Bool { shared == nil && pages == nil && lines.count == 0 }

  /// How changes are found.
  var tracking: Region.Tracking { pages == nil ? .lines : .pages }

  /// From now on a first store traps.
  func close() {
    commitWord.pointee = Self.closed
  }

  /// Called by the store path when some line of `first...last` may not be dirty yet: hands each line
  /// that is not to the journal before it changes, then marks it.
  @usableFromInline @inline(never)
  func markLines(first: Int, last: Int) {
    precondition(snapshot_load_relaxed(commitWord) != Self.closed, "store to a closed region")
    if sharedSerial != 0 {
      // Through the thread's slot without retaining anything: the reference count of an object the
      // threads share would be written by all of them on every first store.
      if let slot = snapshot_thread_slot(sharedSerial) {
        Unmanaged<ThreadLineLog>.fromOpaque(slot)._withUnsafeGuaranteedRef { $0.mark(first: first, last: last, in: bitmap) }
      } else {
        shared!.currentLogOrTrap().mark(first: first, last: last, in: bitmap)
      }
      return
    }
    for line in first...last where bitmap[line &>> 6] & (1 &<< UInt64(line & 63)) == 0 {
      journal.lineWillChange(line)
      lines.insert(line)
    }
  }

  /// Page tracking: every line of every page written since the last msync is changed.
  func markDirtyPages() {
    guard let pages else { return }
    let linesPerPage = PageTracker.pageSize / 64
    for page in pages.dirtyPages {
      markLines(first: Int(page) * linesPerPage, last: Int(page + 1) * linesPerPage - 1)
    }
  }

  /// Page tracking: makes every page read-only again, so that the next write to it is recorded.
  func rearmPages() throws(Errno) {
    try pages?.rearm()
  }
}
