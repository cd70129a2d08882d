import SystemPackage

extension Region {
  /// Creates a region on persistent memory whose durable writes go through `makeMedium(file mapping)`.
  package static func create<M: MemoryMedium>(
    at path: FilePath, size: Int, options: CreateOptions, memory makeMedium: (MappedFile) -> M
  ) throws(SnapshotError) -> Region {
    try create(
      at: path, header: RegionHeader.new(size: size, backing: .persistentMemory, journal: options.journal, logSize: options.logSize),
      tracking: options.tracking, threads: options.threads, maximumSize: options.maximumSize, memory: makeMedium)
  }

  static func create<M: MemoryMedium>(
    at path: FilePath, header: RegionHeader, tracking: Tracking, threads: Threads, maximumSize: Int? = nil,
    memory makeMedium: (MappedFile) -> M
  ) throws(SnapshotError) -> Region {
    try threads.check(journal: header.journal, tracking: tracking)
    return try open(
      RegionFile.create(at: path, header: header, control: initialControlLine(for: header), maximumSize: maximumSize),
      tracking: tracking, threads: threads, memory: makeMedium)
  }

  /// Opens a region on persistent memory whose durable writes go through `makeMedium(file mapping)`.
  package static func open<M: MemoryMedium>(
    at path: FilePath, tracking: Tracking = .lines, threads: Threads = .one, maximumSize: Int? = nil, memory makeMedium: (MappedFile) -> M
  ) throws(SnapshotError) -> Region {
    try open(RegionFile.open(at: path, access: .readWrite, maximumSize: maximumSize), tracking: tracking, threads: threads, memory: makeMedium)
  }

  private static func open<M: MemoryMedium>(
    _ file: RegionFile, tracking: Tracking, threads: Threads, memory makeMedium: (MappedFile) -> M
  ) throws(SnapshotError) -> Region {
    guard case .mapped(let mapping) = file.storage else {
      file.close()
      throw .invalidOptions(reason: "\(file.path): not a persistent-memory region")
    }
    return try Region(path: FilePath(file.path), file: file, tracking: tracking, threads: threads, memory: makeMedium(mapping))
  }

  /// Recovers the region in the mapping, then fills the working copy from it.
  convenience init<M: MemoryMedium>(
    path: FilePath, file: RegionFile, tracking: Tracking, threads: Threads, memory medium: M
  ) throws(SnapshotError) {
    let parts: Parts
    do throws(SnapshotError) {
      let start = ContinuousClock.now
      let plan = try Self.planRecovery(memory: medium, header: file.header, path: path.string)
      let header = file.header.resized(to: plan.dataSize ?? file.header.dataSize)
      let journal = header.journal.onMemory(M.self)
      try SnapshotError.allocating(path.string) { () throws(Errno) in try journal.applyRecovery(plan, medium: medium, header: header) }
      var report = plan.report
      report.duration = ContinuousClock.now - start
      parts = try Self.parts(
        path: path, header: header, maximumSize: file.maximumSize, tracking: tracking, threads: threads, recovery: report
      ) { working in
        working.copyMemory(from: medium.base + header.dataOffset, byteCount: header.dataSize)
      } journal: { working throws(Errno) -> any CommitJournal in
        try journal.init(
          medium: medium, header: header, path: path.string, working: working, tracking: tracking, epoch: plan.epoch, maximumSize: file.maximumSize)
      }
    } catch {
      file.close()
      throw error
    }
    self.init(path: path, file: file, parts: parts)
  }

  static func planRecovery<M: MemoryMedium>(
    memory medium: M, header: RegionHeader, path: String
  ) throws(SnapshotError) -> RecoveryPlan {
    try header.journal.onMemory(M.self).planRecovery(medium: medium, header: header, path: path)
  }

  static func initialControlLine(for header: RegionHeader) -> [UInt8] {
    var line = [UInt8](repeating: 0, count: 64)
    guard header.backing == .persistentMemory else { return line }
    let word = header.journal.memoryLayout.initialControlWord(salt: header.salt)
    line.withUnsafeMutableBytes { $0.storeBytes(of: word.littleEndian, as: UInt64.self) }
    return line
  }
}
