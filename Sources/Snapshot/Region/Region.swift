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
/// A region is used from one thread at a time. Only one open handle per file exists at once: the file
/// is locked, and a second opener, in this process or another, gets ``SnapshotError/locked(path:)``.
public final class Region {
  /// The region's file.
  public let path: FilePath
  /// The number of bytes in the region (a multiple of 4096).
  public let size: Int
  /// What recovery found and did when the region was opened.
  public let recovery: RecoveryReport

  @usableFromInline let _working: UnsafeMutableRawPointer
  @usableFromInline let _bitmap: UnsafeMutablePointer<UInt64>
  let tracker: DirtyLineTracker
  let journal: any CommitJournal
  private let file: RegionFile
  private let workingMapping: MemoryMapping
  private var isClosed = false

  /// The medium the region lives on.
  public var medium: Medium { file.header.medium }
  /// The commit protocol, chosen at creation.
  public var journalKind: Journal { file.header.journal }
  /// The number of the last commit: 0 for a new region, one more for every ``msync()`` that had
  /// changes to commit.
  public var epoch: UInt64 { journal.epoch }
  /// The number of 64-byte lines changed since the last msync.
  public var dirtyLineCount: Int { tracker.count }

  /// Creates a region file of `size` bytes (rounded up to a multiple of 4096), filled with zeros.
  ///
  /// The whole file is allocated up front (`posix_fallocate`), so that a full file system is reported
  /// here as ``SnapshotError/noSpace(path:needed:)`` and never later as SIGBUS. The file holds a 4 KiB
  /// header, the data, and a log sized for the largest possible commit, so that no msync can overflow
  /// it: about 1.13 times the data size for the redo journal and 1.25 times for the undo journal.
  public static func create(
    at path: FilePath, size: Int, options: CreateOptions = CreateOptions()
  ) throws(SnapshotError) -> Region {
    try create(at: path, size: size, options: options) { PersistentMemory(base: $0) }
  }

  /// Opens an existing region, recovering it first if a crash interrupted it.
  ///
  /// Recovery replays or undoes what the log holds, makes the result durable and retires the log, so a
  /// crash during recovery is recovered again the same way. ``recovery`` tells what was done.
  public static func open(at path: FilePath) throws(SnapshotError) -> Region {
    try open(at: path) { PersistentMemory(base: $0) }
  }

  /// Creates a region whose durable writes go through `makeMedium(base of the file mapping)`.
  package static func create<M: ByteAddressableMedium>(
    at path: FilePath, size: Int, options: CreateOptions, medium makeMedium: (UnsafeMutableRawPointer) -> M
  ) throws(SnapshotError) -> Region {
    guard size > 0 else { throw .invalidSize(requested: size, reason: "a region needs at least one byte") }
    let dataSize = roundUp(size, to: RegionHeader.pageSize)
    guard dataSize <= RegionHeader.maximumDataSize else {
      throw .invalidSize(requested: size, reason: "larger than the largest region (\(RegionHeader.maximumDataSize) bytes)")
    }
    var header = RegionHeader(
      medium: options.medium, journal: options.journal, dataSize: dataSize, logSize: 0, salt: .random(in: 1...UInt64.max))
    header.logSize = header.requiredLogSize
    let file = try RegionFile.create(at: path, header: header, control: initialControlLine(for: header))
    return try Region(path: path, file: file, medium: makeMedium(file.mapping.base))
  }

  /// Opens a region whose durable writes go through `makeMedium(base of the file mapping)`.
  package static func open<M: ByteAddressableMedium>(
    at path: FilePath, medium makeMedium: (UnsafeMutableRawPointer) -> M
  ) throws(SnapshotError) -> Region {
    let file = try RegionFile.open(at: path, access: .readWrite)
    return try Region(path: path, file: file, medium: makeMedium(file.mapping.base))
  }

  private init<M: ByteAddressableMedium>(path: FilePath, file: RegionFile, medium: M) throws(SnapshotError) {
    let header = file.header
    var working: MemoryMapping?
    do throws(SnapshotError) {
      let start = ContinuousClock.now
      let plan = try Self.planRecovery(medium: medium, header: header, path: path.string)
      try Self.allocating(path) { () throws(Errno) in
        switch header.journal {
        case .undo: UndoJournal<M>.applyRecovery(plan, medium: medium, header: header)
        case .redo: try RedoJournal<M>.applyRecovery(plan, medium: medium, header: header)
        }
      }
      var report = plan.report
      report.duration = ContinuousClock.now - start

      let copy = try Self.allocating(path) { () throws(Errno) in try MemoryMapping.anonymous(length: header.dataSize) }
      working = copy
      copy.base.copyMemory(from: medium.base + header.dataOffset, byteCount: header.dataSize)
      self.tracker = try Self.allocating(path) { () throws(Errno) in try DirtyLineTracker(lineCount: header.lineCount) }
      self.journal = try Self.allocating(path) { () throws(Errno) -> any CommitJournal in
        switch header.journal {
        case .undo: return UndoJournal(medium: medium, header: header, working: copy.base, epoch: plan.epoch)
        case .redo: return try RedoJournal(medium: medium, header: header, working: copy.base, epoch: plan.epoch)
        }
      }
      self.workingMapping = copy
      self.recovery = report
    } catch {
      working?.unmap()
      file.close()
      throw error
    }
    self.path = path
    self.file = file
    self.size = header.dataSize
    self._working = workingMapping.base
    self._bitmap = tracker.bitmap.words
  }

  deinit {
    if !isClosed {
      journal.checkpoint()
      file.close()
    }
    workingMapping.unmap()
  }

  /// Makes every change since the last msync durable, as one atomic commit.
  ///
  /// - Returns: The epoch of the commit the region now holds (unchanged when nothing was changed).
  @discardableResult
  public func msync() throws(SnapshotError) -> UInt64 {
    guard !isClosed else { throw .closed(path: path.string) }
    if tracker.count > 0 {
      journal.commit(tracker.lines)
      tracker.removeAll()
    }
    return journal.epoch
  }

  /// Rolls the working copy back to the last msync: every change since then is forgotten.
  public func discard() {
    precondition(!isClosed, "discard() on a closed region")
    journal.restore(tracker.lines, into: _working)
    tracker.removeAll()
  }

  /// Brings the home copy up to date with every commit and retires the log, so that an open after a
  /// crash has nothing to replay.
  ///
  /// With the redo journal, msync writes only the log; the home copy catches up at checkpoints, which
  /// happen by themselves when the log has grown past a threshold (64 MiB, or the log's size if
  /// smaller) and at close. Call this to choose the moment instead, for example when the program is
  /// idle. The undo journal's home copy is always current: there, this does nothing.
  public func checkpoint() throws(SnapshotError) {
    guard !isClosed else { throw .closed(path: path.string) }
    journal.checkpoint()
  }

  /// Checkpoints the log (the next open has nothing to recover), unmaps the file and releases its lock.
  ///
  /// Changes made since the last ``msync()`` are not committed: like unmapping a file without msync,
  /// close keeps only what was committed. Closing twice does nothing.
  public func close() throws(SnapshotError) {
    guard !isClosed else { return }
    journal.checkpoint()
    file.close()
    isClosed = true
  }

  /// Lets go of the file as a killed process would: no checkpoint, nothing written. For the crash
  /// simulator's process-crash workloads; the region is closed afterwards.
  package func abandon() {
    guard !isClosed else { return }
    file.close()
    isClosed = true
  }

  /// Called by the store path when some line of `first...last` may not be dirty yet: hands each line
  /// that is not to the journal before it changes, then marks it.
  @usableFromInline @inline(never)
  func _markLines(first: Int, last: Int) {
    precondition(!isClosed, "store to a closed region")
    for line in first...last where _bitmap[line &>> 6] & (1 &<< UInt64(line & 63)) == 0 {
      journal.lineWillChange(line)
      tracker.insert(line)
    }
  }

  static func planRecovery<M: ByteAddressableMedium>(
    medium: M, header: RegionHeader, path: String
  ) throws(SnapshotError) -> RecoveryPlan {
    switch header.journal {
    case .undo: return try UndoJournal<M>.planRecovery(medium: medium, header: header, path: path)
    case .redo: return try RedoJournal<M>.planRecovery(medium: medium, header: header, path: path)
    }
  }

  private static func initialControlLine(for header: RegionHeader) -> [UInt8] {
    var line = [UInt8](repeating: 0, count: 64)
    let word = switch header.journal {
    case .undo: UndoJournalLayout.encodeState(epoch: 0, active: false, salt: header.salt)
    case .redo: RedoJournalLayout.encodeCheckpoint(epoch: 0, salt: header.salt)
    }
    line.withUnsafeMutableBytes { $0.storeBytes(of: word.littleEndian, as: UInt64.self) }
    return line
  }

  private static func allocating<T>(_ path: FilePath, _ body: () throws(Errno) -> T) throws(SnapshotError) -> T {
    do {
      return try body()
    } catch {
      throw .system(path: path.string, operation: "allocate memory", errno: error)
    }
  }
}
