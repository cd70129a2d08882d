import SystemPackage

extension Region {
  /// The largest size a region can have, and the maximum a handle reserves by default: 256 GiB less a
  /// page (log records number lines with 32 bits). Reserving it costs address space only.
  public static var defaultMaximumSize: Int {
    RegionHeader.maximumDataSize / RegionHeader.pageSize * RegionHeader.pageSize
  }

  /// Whether ``grow(to:)`` can make this region larger: regions with the redo journal, created in the
  /// current format.
  public var canGrow: Bool { file.header.canGrow }

  /// Makes the region `newSize` bytes long (rounded up to a multiple of 4096); does nothing when it is
  /// that large already.
  ///
  /// The new bytes read as zeros and may be stored to at once. The new size becomes durable with the
  /// next ``msync()``, atomically with that commit: after a crash the region has either its old size
  /// and the data of the commit before, or its new size and the data of the commit that grew it. Until
  /// then ``discard()`` takes the growth back with the other changes.
  ///
  /// The working copy does not move: address space for ``maximumSize`` was reserved at open, so no
  /// ``TrackedPointer``, container or address taken before a grow dangles after it. The file grows at
  /// that msync (on persistent memory, the data takes over the start of the log, which a checkpoint
  /// empties first); the time it takes is in proportion to the new bytes, never to the data already
  /// there.
  ///
  /// - Throws: ``SnapshotError/maximumSizeReached(path:requested:maximum:)`` past ``maximumSize``;
  ///   ``SnapshotError/invalidOptions(reason:)`` for a region that cannot grow (see ``canGrow``).
  ///   A full file system is reported by the msync that makes the size durable, as
  ///   ``SnapshotError/noSpace(path:needed:)``, with nothing changed.
  public func grow(to newSize: Int) throws(SnapshotError) {
    try serialized { () throws(SnapshotError) in
      guard !isClosed else { throw .closed(path: path.string) }
      let target = roundUp(min(newSize, Int.max - RegionHeader.pageSize), to: RegionHeader.pageSize)
      guard target > size else { return }
      guard canGrow else {
        throw .invalidOptions(
          reason: file.header.journal == .undo
            ? "\(path): a region with the undo journal keeps its size (its log is sized for every line at creation); create it with the redo journal to let it grow"
            : "\(path): a region of format \(file.header.version) keeps its size; copy it into a new region to let it grow")
      }
      guard target <= maximumSize else { throw .maximumSizeReached(path: path.string, requested: newSize, maximum: maximumSize) }
      let first = size / 64
      try whileNoChangeIsInProgress { () throws(SnapshotError) in
        try SnapshotError.allocating(path.string) { () throws(Errno) in try workingMapping.commit(size..<target) }
        try SnapshotError.step(path.string, "track the new pages") { () throws(Errno) in try _changes.pages?.resize(to: target) }
        _sizeCell.pointee = target
      }
      journal.willGrow(to: target)
      // A grow commits even when nothing else changed: its first new line (zeros) is the batch.
      _changes.markLines(first: first, last: first)
    }
  }

  /// After a discard: a size not yet committed is taken back, and the bytes past the committed size
  /// are zeros again, should the region grow anew.
  func discardGrowth() throws(SnapshotError) {
    let committed = journal.committedSize
    guard size > committed else { return }
    try SnapshotError.allocating(path.string) { () throws(Errno) in try workingMapping.commit(committed..<size) }
    try SnapshotError.step(path.string, "track the pages") { () throws(Errno) in try _changes.pages?.resize(to: committed) }
    _sizeCell.pointee = committed
    journal.cancelGrowth()
  }

  /// Runs `body` while no thread is inside a change (threads: .many) or at once (threads: .one); the
  /// caller holds the commit lock.
  private func whileNoChangeIsInProgress(_ body: () throws(SnapshotError) -> Void) throws(SnapshotError) {
    guard let shared = _changes.shared else { return try body() }
    let lines = shared.beginCommit().lines
    defer {
      shared.restoreLines(lines)
      shared.endCommit()
    }
    try body()
  }
}
