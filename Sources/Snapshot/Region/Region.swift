import CSnapshotPlatform
import SystemPackage

/// A fixed-size byte range backed by a file, with failure-atomic msync.
///
/// A region has a durable copy (the file, on the medium) and a working copy in DRAM. Loads and tracked
/// stores touch only the working copy; a change reaches the durable copy only inside ``msync()``. When
/// `msync` returns, every change made before the call is durable, and if the process or the machine
/// dies at any instant, reopening the file yields exactly the state of one completed msync: the last
/// one that returned, or the one in flight. Never a mix of two.
///
/// ```swift
/// let region = try Region.create(at: "/dev/shm/counter.region", size: 1 << 20)
/// let counter = region.pointer(to: UInt64.self, at: 0)
/// counter.pointee += 1        // tracked: the line is marked dirty
/// try region.msync()          // durable, atomically with every other change since the last msync
/// try region.close()
/// ```
///
/// Everything stored in a region should be position independent (offsets, never addresses): the
/// working copy is mapped at a different address every time the region is opened.
///
/// By default a region is used from one thread at a time (``Threads/one``); opened with
/// ``Threads/many``, any number of threads store into it at once and any of them commits everyone's
/// changes: see ``change(_:)``. Only one open handle per file exists at once: the file is locked, and a
/// second opener, in this process or another, gets ``SnapshotError/locked(path:)``.
public final class Region {
  /// The region's file.
  public let path: FilePath
  /// The number of bytes in the region (a multiple of 4096).
  public let size: Int
  /// What recovery found and did when the region was opened.
  public let recovery: RecoveryReport

  @usableFromInline let _working: UnsafeMutableRawPointer
  @usableFromInline let _bitmap: UnsafeMutablePointer<UInt64>
  /// Nonzero while msync or discard runs; 2 (`ConcurrentLineTracker.takingLines`) while it takes and
  /// writes the changed lines: a store then is a race.
  @usableFromInline let _commitWord: UnsafeMutablePointer<UInt64>
  let tracker: DirtyLineTracker
  /// The tracking of a region shared by threads; nil for one thread at a time.
  let shared: ConcurrentLineTracker?
  /// `shared`'s serial number, or 0.
  private let sharedSerial: UInt64
  /// Orders msync, discard, checkpoint and close of a shared region.
  let commitLock = Locked()
  let journal: any CommitJournal
  private let file: RegionFile
  private let workingMapping: MemoryMapping
  /// Page tracking, when the region was opened with it.
  private let pageTracker: PageTracker?
  private(set) var isClosed = false

  /// The medium the region lives on.
  public var medium: Medium { file.header.medium }
  /// The commit protocol, chosen at creation.
  public var journalKind: Journal { file.header.journal }
  /// The number of the last commit: 0 for a new region, one more for every ``msync()`` that had
  /// changes to commit.
  public var epoch: UInt64 { journal.epoch }
  /// The number of 64-byte lines changed since the last msync by tracked stores. With page tracking,
  /// the pages written directly become lines only at msync: see ``hasChanges``.
  public var dirtyLineCount: Int { shared?.count ?? tracker.count }

  /// The bytes this handle has written to the medium: log records, and lines copied home (at msync
  /// with the undo journal, at checkpoints with the redo journal). Divided by the bytes your program
  /// changed, it is the write amplification.
  public var bytesWritten: Int { journal.bytesWritten }

  /// Whether anything was written since the last msync, so that msync will commit.
  public var hasChanges: Bool { dirtyLineCount > 0 || pageTracker?.dirtyPages.isEmpty == false }

  /// With the redo journal, the log size in bytes after which msync checkpoints first (the home copy
  /// catches up and the log starts over). A larger value makes checkpoints rarer, longer, and lets a
  /// line committed many times be written home once; a smaller one bounds the log that recovery
  /// replays after a crash. Defaults: 64 MiB on persistent memory (at most the log's size), 16 MiB on a
  /// file. Nil for the undo journal, whose home copy is current after every msync.
  public var checkpointThreshold: Int? {
    get { (journal as? any CheckpointingJournal)?.checkpointThreshold }
    set {
      guard let newValue, let checkpointing = journal as? any CheckpointingJournal else { return }
      checkpointing.checkpointThreshold = max(newValue, 0)
    }
  }

  /// Creates a region of `size` bytes (rounded up to a multiple of 4096), filled with zeros.
  ///
  /// All space is allocated up front, so that a full file system is reported here as
  /// ``SnapshotError/noSpace(path:needed:)`` and never later as SIGBUS. On persistent memory the file
  /// holds a 4 KiB header, the data, and a log sized for the largest possible commit, so that no msync
  /// can overflow it: about 1.13 times the data size for the redo journal and 1.25 times for the undo
  /// journal. On an ordinary file the data file holds the header and the data, and the log lives beside
  /// it in `PATH-log`.
  public static func create(
    at path: FilePath, size: Int, options: CreateOptions = CreateOptions()
  ) throws(SnapshotError) -> Region {
    // Before the medium is chosen by the directory's file system, which a missing one has not.
    let directory = path.removingLastComponent()
    guard directory.isEmpty || FileSystemKind.isDirectory(directory.string) else {
      throw .directoryNotFound(path: directory.string)
    }
    let header = try RegionHeader.new(size: size, medium: options.resolvedMedium(for: path), journal: options.journal)
    switch header.medium {
    case .persistentMemory:
      return try create(
        at: path, header: header, tracking: options.tracking, threads: options.threads, memory: { PersistentMemory(base: $0) })
    case .file:
      return try create(
        at: path, header: header, tracking: options.tracking, threads: options.threads, files: { FileStorage(data: $0, log: $1) })
    }
  }

  /// Opens an existing region, recovering it first if a crash interrupted it.
  ///
  /// Recovery replays or undoes what the log holds, makes the result durable and retires the log, so a
  /// crash during recovery is recovered again the same way. ``recovery`` tells what was done.
  ///
  /// `tracking` and `threads` apply to this handle only; ``Threads/many`` needs the redo journal and
  /// line tracking.
  public static func open(at path: FilePath, tracking: Tracking = .lines, threads: Threads = .one) throws(SnapshotError) -> Region {
    let file = try RegionFile.open(at: path, access: .readWrite)
    switch file.storage {
    case .mapped(let mapping):
      return try Region(path: path, file: file, tracking: tracking, threads: threads, memory: PersistentMemory(base: mapping.base))
    case .logFile(let log):
      return try Region(path: path, file: file, tracking: tracking, threads: threads, files: FileStorage(data: file.descriptor, log: log))
    }
  }

  /// Builds a region from its parts; the factories for each medium have recovered it already.
  init(path: FilePath, file: RegionFile, parts: Parts) {
    self.path = path
    self.file = file
    self.size = file.header.dataSize
    self.recovery = parts.recovery
    self.journal = parts.journal
    self.tracker = parts.tracker
    self.shared = parts.shared
    self.sharedSerial = parts.shared?.serial ?? 0
    self._commitWord = parts.commitWord
    self.workingMapping = parts.working
    self.pageTracker = parts.pageTracker
    self._working = parts.working.base
    self._bitmap = parts.tracker.bitmap.words
  }

  /// What a medium's factory hands to the region.
  struct Parts {
    var working: MemoryMapping
    var tracker: DirtyLineTracker
    var shared: ConcurrentLineTracker?
    var commitWord: UnsafeMutablePointer<UInt64>
    var pageTracker: PageTracker?
    var journal: any CommitJournal
    var recovery: RecoveryReport
  }

  /// Allocates the working copy and the tracking structures, fills the working copy with `fill`, and
  /// makes the journal; frees what it allocated when a step fails.
  static func parts(
    path: FilePath, header: RegionHeader, tracking: Tracking, threads: Threads, recovery: RecoveryReport,
    fill: (UnsafeMutableRawPointer) throws(SnapshotError) -> Void,
    journal makeJournal: (UnsafeMutableRawPointer) throws(Errno) -> any CommitJournal
  ) throws(SnapshotError) -> Parts {
    try threads.check(journal: header.journal, tracking: tracking)
    let working = try SnapshotError.allocating(path.string) { () throws(Errno) in try MemoryMapping.anonymous(length: header.dataSize) }
    let commitWord = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    commitWord.initialize(to: 0)
    do throws(SnapshotError) {
      try fill(working.base)
      let tracker = try SnapshotError.allocating(path.string) { () throws(Errno) in try DirtyLineTracker(lineCount: header.lineCount) }
      let journal = try SnapshotError.allocating(path.string) { () throws(Errno) in try makeJournal(working.base) }
      let shared = threads == .many
        ? try SnapshotError.allocating(path.string) { () throws(Errno) in
            try ConcurrentLineTracker(
              bitmap: tracker.bitmap, lineCount: header.lineCount, commitWord: commitWord,
              waitsForChanges: !journal.faults.contains(.commitDuringChanges))
          }
        : nil
      if shared != nil { journal.workingCopyIsShared() }
      let pageTracker = tracking == .pages
        ? try SnapshotError.step(path.string, "start page tracking") { () throws(Errno) in try PageTracker(base: working.base, length: header.dataSize) }
        : nil
      return Parts(
        working: working, tracker: tracker, shared: shared, commitWord: commitWord, pageTracker: pageTracker, journal: journal,
        recovery: recovery)
    } catch {
      working.unmap()
      commitWord.deallocate()
      throw error
    }
  }

  deinit {
    if !isClosed {
      try? journal.checkpoint()
      file.close()
    }
    workingMapping.unmap()
    _commitWord.deallocate()
  }

  /// Makes every change since the last msync durable, as one atomic commit.
  ///
  /// In a region shared by threads, the commit holds every thread's changes: see ``change(_:)``.
  ///
  /// - Returns: The epoch of the commit the region now holds (unchanged when nothing was changed).
  @discardableResult
  public func msync() throws(SnapshotError) -> UInt64 {
    try msync(observing: nil)
  }

  /// msync that first shows `observe` the working copy exactly as the commit takes it (no change in
  /// progress on any thread), and whether there is anything to commit. For the crash simulator.
  package func msync(observing observe: ((UnsafeRawBufferPointer, Bool) -> Void)?) throws(SnapshotError) -> UInt64 {
    try serialized { () throws(SnapshotError) in
      guard !isClosed else { throw .closed(path: path.string) }
      if let shared { return try commitShared(shared, observing: observe) }
      markDirtyPages()
      _commitWord.pointee = ConcurrentLineTracker.takingLines
      defer { _commitWord.pointee = 0 }
      observe?(UnsafeRawBufferPointer(start: _working, count: size), tracker.count > 0)
      if tracker.count > 0 {
        try journal.commit(tracker.lines)
        tracker.removeAll()
      }
      try rearmPages()
      return journal.epoch
    }
  }

  /// Page tracking: every line of every page written since the last msync is changed.
  private func markDirtyPages() {
    guard let pageTracker else { return }
    let linesPerPage = PageTracker.pageSize / 64
    for page in pageTracker.dirtyPages {
      _markLines(first: Int(page) * linesPerPage, last: Int(page + 1) * linesPerPage - 1)
    }
  }

  private func rearmPages() throws(SnapshotError) {
    guard let pageTracker else { return }
    try SnapshotError.step(path.string, "re-arm page tracking") { () throws(Errno) in try pageTracker.rearm() }
  }

  /// How changes to the working copy are found.
  public var tracking: Tracking { pageTracker == nil ? .lines : .pages }

  /// Calls `body` with the working copy for writing, for code that cannot use tracked stores (a C
  /// library, a raw pointer loop). Requires page tracking: every page it writes is recorded.
  ///
  /// Do not keep the buffer after `body` returns.
  public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
    precondition(pageTracker != nil, "writing the working copy directly needs page tracking (tracking: .pages)")
    return try body(UnsafeMutableRawBufferPointer(start: _working, count: size))
  }

  /// Rolls the working copy back to the last msync: every change since then is forgotten.
  ///
  /// On persistent memory this cannot fail. On a file, the last committed contents of some lines may
  /// have to be read back from the log or the data file; if that read fails, the error is thrown and
  /// the changes are kept.
  public func discard() throws(SnapshotError) {
    try serialized { () throws(SnapshotError) in
      guard !isClosed else { throw .closed(path: path.string) }
      if let shared { return try discardShared(shared) }
      markDirtyPages()
      _commitWord.pointee = ConcurrentLineTracker.takingLines
      defer { _commitWord.pointee = 0 }
      try journal.restore(tracker.lines, into: _working)
      tracker.removeAll()
      try rearmPages()
    }
  }

  /// Brings the home copy up to date with every commit and retires the log, so that an open after a
  /// crash has nothing to replay.
  ///
  /// With the redo journal, msync writes only the log; the home copy catches up at checkpoints, which
  /// happen by themselves when the log has grown past a threshold (64 MiB on persistent memory, 16 MiB
  /// on a file, or the log's size if smaller) and at close. Call this to choose the moment instead, for
  /// example when the program is idle. The undo journal's home copy is always current: there, this
  /// does nothing.
  public func checkpoint() throws(SnapshotError) {
    try serialized { () throws(SnapshotError) in
      guard !isClosed else { throw .closed(path: path.string) }
      try journal.checkpoint()
    }
  }

  /// Checkpoints the log (the next open has nothing to recover), unmaps the file and releases its lock.
  ///
  /// Changes made since the last ``msync()`` are not committed: like unmapping a file without msync,
  /// close keeps only what was committed. Closing twice does nothing.
  ///
  /// The file is released even when the checkpoint fails; the error is thrown then, and the next open
  /// recovers from the log.
  ///
  /// With ``Threads/many``, close once no other thread stores any more: a first store to a line of a
  /// closed region traps.
  public func close() throws(SnapshotError) {
    try serialized { () throws(SnapshotError) in
      guard !isClosed else { return }
      defer {
        file.close()
        isClosed = true
      }
      try journal.checkpoint()
    }
  }

  /// Lets go of the file as a killed process would: no checkpoint, nothing written. For the crash
  /// simulator's process-crash workloads; the region is closed afterwards.
  package func abandon() {
    serialized {
      guard !isClosed else { return }
      file.close()
      isClosed = true
    }
  }

  /// Called by the store path when some line of `first...last` may not be dirty yet: hands each line
  /// that is not to the journal before it changes, then marks it.
  @usableFromInline @inline(never)
  func _markLines(first: Int, last: Int) {
    precondition(!isClosed, "store to a closed region")
    if sharedSerial != 0 {
      // Through the thread's slot without retaining anything: the reference count of an object the
      // threads share would be written by all of them on every first store.
      if let slot = snapshot_thread_slot(sharedSerial) {
        Unmanaged<ThreadLineLog>.fromOpaque(slot)._withUnsafeGuaranteedRef { $0.mark(first: first, last: last, in: _bitmap) }
      } else {
        shared!.currentLogOrTrap().mark(first: first, last: last, in: _bitmap)
      }
      return
    }
    for line in first...last where _bitmap[line &>> 6] & (1 &<< UInt64(line & 63)) == 0 {
      journal.lineWillChange(line)
      tracker.insert(line)
    }
  }
}
