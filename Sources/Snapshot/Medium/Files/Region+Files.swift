import SystemPackage

extension Region {
  /// Creates a region on an ordinary file whose writes and syncs go through
  /// `makeMedium(data file, log file)`.
  ///
  /// `faults` reach creation too (a skipped directory sync); `directorySynced` is called once the
  /// directory holding the new files is synced, for a tracing medium to record it.
  package static func create<M: FileMedium>(
    at path: FilePath, size: Int, logSize: Int? = nil, tracking: Tracking = .lines, threads: Threads = .one, maximumSize: Int? = nil,
    faults: Fault = [], directorySynced: () -> Void = {}, files makeMedium: (FileDescriptor, FileDescriptor) -> M
  ) throws(SnapshotError) -> Region {
    try create(
      at: path, header: RegionHeader.new(size: size, backing: .file, journal: .redo, logSize: logSize), tracking: tracking, threads: threads,
      maximumSize: maximumSize, faults: faults, directorySynced: directorySynced, files: makeMedium)
  }

  static func create<M: FileMedium>(
    at path: FilePath, header: RegionHeader, tracking: Tracking = .lines, threads: Threads = .one, maximumSize: Int? = nil, faults: Fault = [],
    directorySynced: () -> Void = {}, files makeMedium: (FileDescriptor, FileDescriptor) -> M
  ) throws(SnapshotError) -> Region {
    try threads.check(journal: header.journal, tracking: tracking)
    return try open(
      RegionFile.create(
        at: path, header: header, control: initialControlLine(for: header), maximumSize: maximumSize, faults: faults,
        directorySynced: directorySynced),
      tracking: tracking, threads: threads, files: makeMedium)
  }

  /// Opens a region on an ordinary file whose writes and syncs go through
  /// `makeMedium(data file, log file)`.
  package static func open<M: FileMedium>(
    at path: FilePath, tracking: Tracking = .lines, threads: Threads = .one, maximumSize: Int? = nil,
    files makeMedium: (FileDescriptor, FileDescriptor) -> M
  ) throws(SnapshotError) -> Region {
    try open(
      RegionFile.open(at: path, access: .readWrite, maximumSize: maximumSize), tracking: tracking, threads: threads, files: makeMedium)
  }

  private static func open<M: FileMedium>(
    _ file: RegionFile, tracking: Tracking, threads: Threads, files makeMedium: (FileDescriptor, FileDescriptor) -> M
  ) throws(SnapshotError) -> Region {
    guard case .logFile(let log) = file.storage else {
      file.close()
      throw .invalidOptions(reason: "\(file.path): not a region on a file")
    }
    return try Region(path: FilePath(file.path), file: file, tracking: tracking, threads: threads, files: makeMedium(file.descriptor, log))
  }

  /// Recovers the region from its log into its data file, then reads the working copy from it.
  convenience init<M: FileMedium>(
    path: FilePath, file: RegionFile, tracking: Tracking, threads: Threads, files medium: M
  ) throws(SnapshotError) {
    let parts: Parts
    do throws(SnapshotError) {
      let start = ContinuousClock.now
      let (plan, logHeader) = try FileRedoJournal<M>.recover(medium: medium, header: file.header, logPath: file.logPath)
      let header = file.header.resized(to: plan.dataSize ?? file.header.dataSize)
      let sizes = try FileRedoJournal<M>.readSizeRecords(medium: medium, header: header, path: path.string)
      var report = plan.report
      report.duration = ContinuousClock.now - start
      parts = try Self.parts(
        path: path, header: header, maximumSize: file.maximumSize, tracking: tracking, threads: threads, recovery: report
      ) { working throws(SnapshotError) in
        do throws(Errno) {
          try medium.read(into: UnsafeMutableRawBufferPointer(start: working, count: header.dataSize), at: header.dataOffset, from: .data)
        } catch {
          throw .system(path: path.string, operation: "read", errno: error)
        }
      } journal: { working throws(Errno) -> any CommitJournal in
        try FileRedoJournal(
          medium: medium, header: header, sizes: sizes, working: working, logPath: file.logPath, logHeader: logHeader,
          maximumSize: file.maximumSize)
      }
    } catch {
      file.close()
      throw error
    }
    self.init(path: path, file: file, parts: parts)
  }
}
