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
  /// The number of bytes in the region (a multiple of 4096): the size it was created with, or the size
  /// ``grow(to:)`` made it.
  @inlinable public var size: Int { _sizeCell.pointee }
  /// Where ``size`` is kept. Only ``grow(to:)`` and ``discard()`` change it, under the commit protocol's
  /// exclusion; a cell of its own makes every read a plain load, where a stored `var` of the class
  /// would be checked for exclusive access at each read from another module (a hash-map lookup of
  /// SnapshotKV took 1.35x as long).
  @usableFromInline let _sizeCell: UnsafeMutablePointer<Int>
  /// The largest size ``grow(to:)`` may give the region through this handle: address space for it is
  /// reserved at open, so the working copy never moves.
  public let maximumSize: Int
  /// What recovery found and did when the region was opened.
  public let recovery: RecoveryReport

  @usableFromInline let _working: UnsafeMutableRawPointer
  /// Which lines changed since the last msync.
  @usableFromInline let _changes: ChangeTracker
  /// Orders msync, discard, checkpoint and close of a shared region.
  let commitLock = Locked()
  let journal: any CommitJournal
  let file: RegionFile
  /// The address space reserved for the working copy at its maximum size; the first `size` bytes are
  /// memory.
  let workingMapping: MemoryMapping
  private(set) var isClosed = false
  /// Sees every commit before the journal makes it durable: replication ships it from there. Set
  /// only while no commit runs (opening and closing a replicated region), so the read at each commit
  /// needs no run-time exclusivity check (83 instructions per update of YCSB A).
  @exclusivity(unchecked) package var commitListener: (any CommitListener)?

  /// What the region lives on: persistent memory or a file.
  public var backing: Backing { file.header.backing }
  /// The commit protocol, chosen at creation.
  public var journalKind: Journal { file.header.journal }
  /// The number of the last commit: 0 for a new region, one more for every ``msync()`` that had
  /// changes to commit.
  public var epoch: UInt64 { journal.epoch }
  /// The number of 64-byte lines changed since the last msync by tracked stores. With page tracking,
  /// the pages written directly become lines only at msync: see ``hasChanges``.
  public var dirtyLineCount: Int { _changes.count }

  /// The bytes this handle has written to the medium: log records, and lines copied home (at msync
  /// with the undo journal, at checkpoints with the redo journal). Divided by the bytes your program
  /// changed, it is the write amplification.
  public var bytesWritten: Int { journal.bytesWritten }

  /// Whether anything was written since the last msync, so that msync will commit.
  public var hasChanges: Bool { _changes.hasChanges }

  /// With the redo journal, the log size in bytes after which msync checkpoints first (the home copy
  /// catches up and the log starts over). A larger value makes checkpoints rarer, longer, and lets a
  /// line committed many times be written home once; a smaller one bounds the log that recovery
  /// replays after a crash. Defaults: 64 MiB on persistent memory, 16 MiB on a file, or the log's
  /// resting size if smaller. Nil for the undo journal, whose home copy is current after every msync.
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
  /// holds a 4 KiB header, the data, and the log; on an ordinary file the data file holds the header
  /// and the data, and the log lives beside it in `PATH-log`. The redo journal's log rests at
  /// ``CreateOptions/logSize`` (by default a sixteenth of the data and at least 64 MiB on persistent memory, 16 MiB on a file), grows for a
  /// commit larger than that (allocated before any byte of it is written, so a full file system fails
  /// that msync with nothing changed) and shrinks back at the next checkpoint. The undo journal's log
  /// is sized for a commit of every line: about 1.25 times the data.
  public static func create(
    at path: FilePath, size: Int, options: CreateOptions = CreateOptions()
  ) throws(SnapshotError) -> Region {
    // Before the backing is chosen by the directory's file system, which a missing one has not.
    let directory = path.removingLastComponent()
    guard directory.isEmpty || FileSystemKind.isDirectory(directory.string) else {
      throw .directoryNotFound(path: directory.string)
    }
    let header = try RegionHeader.new(
      size: size, backing: options.resolvedBacking(for: path), journal: options.journal, logSize: options.logSize)
    switch header.backing {
    case .persistentMemory:
      return try create(
        at: path, header: header, tracking: options.tracking, threads: options.threads, maximumSize: options.maximumSize,
        memory: { PersistentMemory(file: $0) })
    case .file:
      return try create(
        at: path, header: header, tracking: options.tracking, threads: options.threads, maximumSize: options.maximumSize,
        files: { FileStorage(data: $0, log: $1) })
    }
  }

  /// Opens an existing region, recovering it first if a crash interrupted it.
  ///
  /// Recovery replays or undoes what the log holds, makes the result durable and retires the log, so a
  /// crash during recovery is recovered again the same way. ``recovery`` tells what was done.
  ///
  /// `tracking`, `threads` and `maximumSize` apply to this handle only; ``Threads/many`` needs the redo
  /// journal and line tracking. `maximumSize` bounds ``grow(to:)`` (nil: ``defaultMaximumSize``; never
  /// less than the region's size).
  public static func open(
    at path: FilePath, tracking: Tracking = .lines, threads: Threads = .one, maximumSize: Int? = nil
  ) throws(SnapshotError) -> Region {
    let file = try RegionFile.open(at: path, access: .readWrite, maximumSize: maximumSize)
    switch file.storage {
    case .mapped(let mapping):
      return try Region(path: path, file: file, tracking: tracking, threads: threads, memory: PersistentMemory(file: mapping))
    case .logFile(let log):
      return try Region(path: path, file: file, tracking: tracking, threads: threads, files: FileStorage(data: file.descriptor, log: log))
    }
  }

  /// Builds a region from its parts; the factories for each medium have recovered it already.
  init(path: FilePath, file: RegionFile, parts: Parts) {
    self.path = path
    self.file = file
    self._sizeCell = .allocate(capacity: 1)
    self._sizeCell.initialize(to: parts.size)
    self.maximumSize = file.maximumSize
    self.recovery = parts.recovery
    self.journal = parts.journal
    self._changes = parts.changes
    self.workingMapping = parts.working
    self._working = parts.working.base
  }

  /// What a medium's factory hands to the region.
  struct Parts {
    var size: Int
    var working: MemoryMapping
    var changes: ChangeTracker
    var journal: any CommitJournal
    var recovery: RecoveryReport
  }

  /// Reserves address space for the working copy at `maximumSize`, allocates its first `header.dataSize`
  /// bytes and the tracking structures (for the maximum), fills the working copy with `fill`, and makes
  /// the journal; frees what it allocated when a step fails.
  static func parts(
    path: FilePath, header: RegionHeader, maximumSize: Int, tracking: Tracking, threads: Threads, recovery: RecoveryReport,
    fill: (UnsafeMutableRawPointer) throws(SnapshotError) -> Void,
    journal makeJournal: (UnsafeMutableRawPointer) throws(Errno) -> any CommitJournal
  ) throws(SnapshotError) -> Parts {
    try threads.check(journal: header.journal, tracking: tracking)
    let working = try SnapshotError.allocating(path.string) { () throws(Errno) in
      try MemoryMapping.reserve(length: maximumSize, alignment: 2 << 20)
    }
    do throws(SnapshotError) {
      try SnapshotError.allocating(path.string) { () throws(Errno) in try working.commit(0..<header.dataSize) }
      try fill(working.base)
      let journal = try SnapshotError.allocating(path.string) { () throws(Errno) in try makeJournal(working.base) }
      let changes = try ChangeTracker(
        path: path.string, lineCount: maximumSize / 64, working: working, size: header.dataSize, tracking: tracking, threads: threads,
        journal: journal)
      return Parts(size: header.dataSize, working: working, changes: changes, journal: journal, recovery: recovery)
    } catch {
      working.unmap()
      throw error
    }
  }

  deinit {
    if !isClosed {
      try? journal.checkpoint()
      file.close()
    }
    workingMapping.unmap()
    _changes.deallocate()
    _sizeCell.deallocate()
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
  @inline(__always)
  package func msync(observing observe: ((UnsafeRawBufferPointer, Bool) -> Void)?) throws(SnapshotError) -> UInt64 {
    // A read-only transaction commits too (a store commits after every operation): with nothing
    // to commit, this is a few loads, not a commit's bookkeeping.
    if _changes.hasNothingToCommit, !isClosed {
      observe?(UnsafeRawBufferPointer(start: _working, count: size), false)
      return journal.epoch
    }
    return try commitChanges(observing: observe)
  }

  private func commitChanges(observing observe: ((UnsafeRawBufferPointer, Bool) -> Void)?) throws(SnapshotError) -> UInt64 {
    if let shared = _changes.shared { return try msyncShared(shared, ticket: shared.ticket(), observing: observe) }
    return try serialized { () throws(SnapshotError) in
      guard !isClosed else { throw .closed(path: path.string) }
      _changes.markDirtyPages()
      let tracker = _changes.lines
      _changes.commitWord.pointee = ConcurrentLineTracker.takingLines
      defer { _changes.commitWord.pointee = 0 }
      observe?(UnsafeRawBufferPointer(start: _working, count: size), tracker.count > 0)
      if tracker.count > 0 {
        try commitListener?.willCommit(
          epoch: journal.epoch + 1, size: size, lines: tracker.lines, working: UnsafeRawPointer(_working), path: path)
        try journal.commit(tracker.lines)
        tracker.removeAll()
      }
      try rearmPages()
      return journal.epoch
    }
  }

  private func rearmPages() throws(SnapshotError) {
    try SnapshotError.step(path.string, "re-arm page tracking") { () throws(Errno) in try _changes.rearmPages() }
  }

  /// How changes to the working copy are found.
  public var tracking: Tracking { _changes.tracking }

  /// Calls `body` with the working copy for writing, for code that cannot use tracked stores (a C
  /// library, a raw pointer loop). Requires page tracking: every page it writes is recorded.
  ///
  /// Do not keep the buffer after `body` returns.
  public func withUnsafeMutableBytes<R, E: Error>(_ body: (UnsafeMutableRawBufferPointer) throws(E) -> R) throws(E) -> R {
    precondition(_changes.pages != nil, "writing the working copy directly needs page tracking (tracking: .pages)")
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
      if let shared = _changes.shared { return try discardShared(shared) }
      _changes.markDirtyPages()
      let tracker = _changes.lines
      _changes.commitWord.pointee = ConcurrentLineTracker.takingLines
      defer { _changes.commitWord.pointee = 0 }
      try restoreCommitted(tracker.lines)
      tracker.removeAll()
      try rearmPages()
      try discardGrowth()
    }
  }

  /// Restores the last committed contents of `lines`, but for lines past the committed size, which
  /// `discardGrowth` zeroes.
  func restoreCommitted(_ lines: UnsafeBufferPointer<UInt32>) throws(SnapshotError) {
    guard size > journal.committedSize else { return try journal.restore(lines, into: _working) }
    let committed = UInt32(journal.committedSize / 64)
    let kept = lines.filter { $0 < committed }
    try kept.withUnsafeBufferPointer { kept in Result { () throws(SnapshotError) in try journal.restore(kept, into: _working) } }.get()
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
        _changes.close()
      }
      try journal.checkpoint()
    }
  }

  /// Lets go of the file as a killed process would: no checkpoint, nothing written. For the crash
  /// simulator's process-crash workloads; the region is closed afterwards.
  package func abandon() {
    serialized {
      guard !isClosed else { return }
      journal.stopBackgroundWork()
      file.close()
      isClosed = true
      _changes.close()
    }
  }
}
