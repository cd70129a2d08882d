import SystemPackage

extension Region {
  /// Creates a region on persistent memory whose durable writes go through
  /// `makeMedium(base of the file mapping)`.
  package static func create<M: ByteAddressableMedium>(
    at path: FilePath, size: Int, options: CreateOptions, memory makeMedium: (UnsafeMutableRawPointer) -> M
  ) throws(SnapshotError) -> Region {
    try create(
      at: path, header: RegionHeader.new(size: size, medium: .persistentMemory, journal: options.journal),
      tracking: options.tracking, threads: options.threads, memory: makeMedium)
  }

  static func create<M: ByteAddressableMedium>(
    at path: FilePath, header: RegionHeader, tracking: Tracking, threads: Threads, memory makeMedium: (UnsafeMutableRawPointer) -> M
  ) throws(SnapshotError) -> Region {
    try threads.check(journal: header.journal, tracking: tracking)
    let file = try RegionFile.create(at: path, header: header, control: initialControlLine(for: header))
    return try Region(path: path, file: file, tracking: tracking, threads: threads, memory: makeMedium(file.mapping!.base))
  }

  /// Opens a region on persistent memory whose durable writes go through
  /// `makeMedium(base of the file mapping)`.
  package static func open<M: ByteAddressableMedium>(
    at path: FilePath, tracking: Tracking = .lines, threads: Threads = .one, memory makeMedium: (UnsafeMutableRawPointer) -> M
  ) throws(SnapshotError) -> Region {
    let file = try RegionFile.open(at: path, access: .readWrite)
    guard let mapping = file.mapping else {
      file.close()
      throw .invalidOptions(reason: "\(path): not a persistent-memory region")
    }
    return try Region(path: path, file: file, tracking: tracking, threads: threads, memory: makeMedium(mapping.base))
  }

  /// Recovers the region in the mapping, then fills the working copy from it.
  convenience init<M: ByteAddressableMedium>(
    path: FilePath, file: RegionFile, tracking: Tracking, threads: Threads, memory medium: M
  ) throws(SnapshotError) {
    let header = file.header
    let parts: Parts
    do throws(SnapshotError) {
      let start = ContinuousClock.now
      let plan = try Self.planRecovery(memory: medium, header: header, path: path.string)
      try SnapshotError.allocating(path.string) { () throws(Errno) in
        switch header.journal {
        case .undo: UndoJournal<M>.applyRecovery(plan, medium: medium, header: header)
        case .redo: try RedoJournal<M>.applyRecovery(plan, medium: medium, header: header)
        }
      }
      var report = plan.report
      report.duration = ContinuousClock.now - start
      parts = try Self.parts(path: path, header: header, tracking: tracking, threads: threads, recovery: report) { working in
        working.copyMemory(from: medium.base + header.dataOffset, byteCount: header.dataSize)
      } journal: { working throws(Errno) -> any CommitJournal in
        switch header.journal {
        case .undo:
          // With page tracking, lines are logged at msync, after they changed: their old images come
          // from the home copy, which holds the last commit until then.
          let oldImages = tracking == .pages ? UnsafeRawPointer(medium.base + header.dataOffset) : UnsafeRawPointer(working)
          return UndoJournal(medium: medium, header: header, oldImages: oldImages, working: working, epoch: plan.epoch)
        case .redo: return try RedoJournal(medium: medium, header: header, working: working, epoch: plan.epoch)
        }
      }
    } catch {
      file.close()
      throw error
    }
    self.init(path: path, file: file, parts: parts)
  }

  static func planRecovery<M: ByteAddressableMedium>(
    memory medium: M, header: RegionHeader, path: String
  ) throws(SnapshotError) -> RecoveryPlan {
    switch header.journal {
    case .undo: return try UndoJournal<M>.planRecovery(medium: medium, header: header, path: path)
    case .redo: return try RedoJournal<M>.planRecovery(medium: medium, header: header, path: path)
    }
  }

  static func initialControlLine(for header: RegionHeader) -> [UInt8] {
    var line = [UInt8](repeating: 0, count: 64)
    guard header.medium == .persistentMemory else { return line }
    let word = switch header.journal {
    case .undo: UndoJournalLayout.encodeState(epoch: 0, active: false, salt: header.salt)
    case .redo: RedoJournalLayout.encodeCheckpoint(epoch: 0, salt: header.salt)
    }
    line.withUnsafeMutableBytes { $0.storeBytes(of: word.littleEndian, as: UInt64.self) }
    return line
  }
}
