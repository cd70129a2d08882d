#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// The files of a region: the data file (its descriptor, the lock held on it, its checked header) and,
/// on persistent memory, the shared mapping of the whole file or, on an ordinary file system, the log
/// file beside it.
final class RegionFile {
  let path: String
  let descriptor: FileDescriptor
  /// The header line: the size the region was created with, among the rest.
  let header: RegionHeader
  /// The sizes the region has grown to, as found at open; the journal's recovery resolves which holds.
  let sizes: SizeRecords
  /// The largest size this handle lets the region grow to: address space for it is reserved.
  let maximumSize: Int
  let storage: Storage

  /// How the durable copy is reached, by medium.
  enum Storage {
    /// Persistent memory: the whole file, mapped shared, with room to grow its log.
    case mapped(MappedFile)
    /// Files: the log, `PATH-log`, beside the data file.
    case logFile(FileDescriptor)
  }

  /// How a region is opened: for use (exclusive lock; recovery may write) or for inspection (shared
  /// lock, read-only; nothing is written).
  enum Access {
    case readWrite
    case inspect
  }

  /// Where the log of the region at `path` lives when its medium is a file.
  static func logPath(for path: String) -> String { path + "-log" }

  /// The data file whose log is at `logPath`.
  static func dataPath(forLog logPath: String) -> String { String(logPath.dropLast("-log".count)) }

  var logPath: String { Self.logPath(for: path) }

  private init(path: String, descriptor: FileDescriptor, header: RegionHeader, sizes: SizeRecords, maximumSize: Int, storage: Storage) {
    self.path = path
    self.descriptor = descriptor
    self.header = header
    self.sizes = sizes
    self.maximumSize = maximumSize
    self.storage = storage
  }

  /// The largest size a handle on a region with `header` and `sizes` may grow it to: `requested` (by
  /// default the largest region), never less than a size already recorded; the size it has for a region
  /// that cannot grow.
  static func maximumSize(_ requested: Int?, header: RegionHeader, sizes: SizeRecords) -> Int {
    guard header.canGrow else { return header.dataSize }
    let wanted = min(roundUp(requested ?? Region.defaultMaximumSize, to: RegionHeader.pageSize), Region.defaultMaximumSize)
    return max(wanted, header.dataSize, sizes.largestSize ?? 0)
  }

  /// Creates the region's files. Each is made under a temporary name, allocated in full, written and
  /// synced before it gets its name; the data file is named last, and the directory is synced after
  /// that. A crash during creation leaves no half-made region at `path`.
  ///
  /// `directorySynced` is called once the directory is synced, for a tracing medium to record it.
  static func create(
    at filePath: FilePath, header: RegionHeader, control: [UInt8], maximumSize: Int? = nil, faults: Fault = [],
    directorySynced: () -> Void = {}
  ) throws(SnapshotError) -> RegionFile {
    let path = filePath.string
    let directory = directoryName(of: filePath)
    if access(path, F_OK) == 0 { throw .fileExists(path: path) }
    if header.backing == .persistentMemory {
      try PersistentMemory.checkSupported(directory: directory, path: path)
    }
    var log: FileDescriptor?
    if header.backing == .file {
      // A log left by a creation that crashed before naming its data file belongs to no region.
      log = try createFile(at: logPath(for: path), in: directory, named: { temporary in
        rename(temporary, logPath(for: path)) == 0 ? nil : Errno(rawValue: errno)
      }) { descriptor throws(SnapshotError) in
        try writeInitialLog(descriptor, header: header, path: logPath(for: path))
      }
    }
    do throws(SnapshotError) {
      let descriptor = try createFile(at: path, in: directory, named: { temporary in
        link(temporary, path) == 0 ? nil : Errno(rawValue: errno)
      }) { descriptor throws(SnapshotError) in
        try SnapshotError.step(path, "lock") { () throws(Errno) in _ = try descriptor.tryLock(.exclusive) }
        try allocate(descriptor, bytes: header.restingFileSize, path: path)
        try SnapshotError.step(path, "write header") { () throws(Errno) in try descriptor.writeAll(header.encoded() + control, at: 0) }
      }
      do throws(SnapshotError) {
        if !faults.contains(.skipDirectorySync) {
          try SnapshotError.step(path, "fsync directory") { () throws(Errno) in try synchronizeDirectory(directory) }
          directorySynced()
        }
        let sizes = SizeRecords.none
        let maximum = Self.maximumSize(maximumSize, header: header, sizes: sizes)
        let storage: Storage = if let log {
          .logFile(log)
        } else {
          .mapped(try SnapshotError.step(path, "mmap") { () throws(Errno) in
            try MappedFile(descriptor, length: header.restingFileSize, largest: header.resized(to: maximum).largestFileSize, writable: true)
          })
        }
        return RegionFile(path: path, descriptor: descriptor, header: header, sizes: sizes, maximumSize: maximum, storage: storage)
      } catch {
        unlink(path)
        try? descriptor.close()
        throw error
      }
    } catch {
      if let log {
        unlink(logPath(for: path))
        try? log.close()
      }
      throw error
    }
  }

  /// Makes a file under a temporary name in `directory`, lets `prepare` fill it, syncs it, and gives it
  /// its name with `name` (which returns the error of `link` or `rename`, if any).
  private static func createFile(
    at path: String, in directory: String, named name: (String) -> Errno?,
    prepare: (FileDescriptor) throws(SnapshotError) -> Void
  ) throws(SnapshotError) -> FileDescriptor {
    let base = FilePath(path).lastComponent?.string ?? "region"
    let temporary = "\(directory)/.\(base).creating-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    let descriptor: FileDescriptor
    do {
      descriptor = try FileDescriptor.open(
        FilePath(temporary), .readWrite, options: [.create, .exclusiveCreate, .closeOnExec],
        permissions: [.ownerReadWrite, .groupRead, .otherRead])
    } catch {
      let errno = Errno(error)
      throw errno == .readOnlyFileSystem || errno == .permissionDenied
        ? .readOnly(path: path) : .system(path: path, operation: "create", errno: errno)
    }
    defer { unlink(temporary) }
    do throws(SnapshotError) {
      try prepare(descriptor)
      try SnapshotError.step(path, "fsync") { () throws(Errno) in try descriptor.synchronize() }
      if let error = name(temporary) {
        throw error == .fileExists ? .fileExists(path: path) : .system(path: path, operation: "name", errno: error)
      }
      return descriptor
    } catch {
      try? descriptor.close()
      throw error
    }
  }

  /// The log's header sector, then zeros written (not just allocated) up to the log's first capacity,
  /// so that appending a batch later overwrites blocks the file system already holds and a sync
  /// flushes data only.
  private static func writeInitialLog(_ descriptor: FileDescriptor, header: RegionHeader, path: String) throws(SnapshotError) {
    let capacity = LogFileHeader.batchesOffset + header.logSize
    try allocate(descriptor, bytes: capacity, path: path)
    let logHeader = LogFileHeader(regionSalt: header.salt, logSalt: .random(in: 1...UInt64.max), checkpointEpoch: 0)
    try SnapshotError.step(path, "write") { () throws(Errno) in
      try descriptor.writeAll(logHeader.encoded(), at: 0)
      let zeros = [UInt8](repeating: 0, count: 1 << 20)
      var offset = LogFileHeader.batchesOffset
      while offset < capacity {
        let count = min(zeros.count, capacity - offset)
        try descriptor.writeAll(Array(zeros[0..<count]), at: Int64(offset))
        offset += count
      }
    }
  }

  private static func allocate(_ descriptor: FileDescriptor, bytes: Int, path: String) throws(SnapshotError) {
    do {
      try descriptor.allocate(offset: 0, length: Int64(bytes))
    } catch {
      throw error == .noSpace || error == .fileTooLarge
        ? .noSpace(path: path, needed: Int64(bytes))
        : .system(path: path, operation: "allocate", errno: error)
    }
  }

  /// Opens, locks and checks an existing region: header magic, version and checksum, then the file
  /// size the header implies (whole pages, no shorter than the region was created, no longer than the
  /// largest it can have grown to with its largest log). Nothing is mapped until the size is known to be
  /// plausible, so a truncated file cannot raise SIGBUS; recovery checks it against the size it resolves.
  static func open(at filePath: FilePath, access: Access, maximumSize: Int? = nil) throws(SnapshotError) -> RegionFile {
    let path = filePath.string
    let descriptor = try openDescriptor(path, access: access, missing: .fileNotFound(path: path))
    do throws(SnapshotError) {
      if access == .readWrite, try SnapshotError.step(path, "stat", descriptor.hasNoWritePermission) {
        throw SnapshotError.readOnly(path: path)
      }
      let locked = try SnapshotError.step(path, "lock") { () throws(Errno) in
        try descriptor.lock(access == .readWrite ? .exclusive : .shared, patience: .milliseconds(50))
      }
      guard locked else { throw SnapshotError.locked(path: path) }
      let size = try SnapshotError.step(path, "stat", descriptor.size)
      let prefix = try SnapshotError.step(path, "read header") { () throws(Errno) in
        try descriptor.readPrefix(count: Int(min(size, Int64(SizeRecords.bytes.upperBound))))
      }
      if prefix.count >= 8, prefix.withUnsafeBytes({ $0.loadUnaligned(as: UInt64.self) }) != RegionHeader.magic.littleEndian {
        throw SnapshotError.notARegion(path: path)
      }
      guard size >= Int64(RegionHeader.pageSize) else {
        throw SnapshotError.truncated(path: path, size: size, expected: Int64(RegionHeader.pageSize))
      }
      let header = try RegionHeader.decode(prefix, path: path)
      // Only a region that can grow has size records; the undo journal keeps its own words there.
      let sizes = header.canGrow
        ? try prefix.withBytes { bytes throws(SnapshotError) in try SizeRecords.decode(bytes, salt: header.salt, path: path) }
        : SizeRecords.none
      let maximum = Self.maximumSize(maximumSize, header: header, sizes: sizes)
      let expected = Int64(header.restingFileSize)
      if size < expected { throw SnapshotError.truncated(path: path, size: size, expected: expected) }
      let largest = header.resized(to: max(header.dataSize, sizes.largestSize ?? 0)).largestFileSize
      if size > Int64(largest) || size % Int64(RegionHeader.pageSize) != 0 {
        throw SnapshotError.sizeMismatch(path: path, size: size, expected: expected)
      }
      switch header.backing {
      case .persistentMemory:
        if access == .readWrite {
          try PersistentMemory.checkSupported(directory: directoryName(of: filePath), path: path)
        }
        let mapping = try SnapshotError.step(path, "mmap") { () throws(Errno) in
          try MappedFile(descriptor, length: Int(size), largest: header.resized(to: maximum).largestFileSize, writable: access == .readWrite)
        }
        return RegionFile(path: path, descriptor: descriptor, header: header, sizes: sizes, maximumSize: maximum, storage: .mapped(mapping))
      case .file:
        let log = try openDescriptor(logPath(for: path), access: access, missing: .logMissing(path: logPath(for: path)))
        return RegionFile(path: path, descriptor: descriptor, header: header, sizes: sizes, maximumSize: maximum, storage: .logFile(log))
      }
    } catch {
      try? descriptor.close()
      throw error
    }
  }

  private static func openDescriptor(_ path: String, access: Access, missing: SnapshotError) throws(SnapshotError) -> FileDescriptor {
    do {
      // Close-on-exec: a child process must not inherit the descriptor, or the lock would outlive close().
      return try FileDescriptor.open(FilePath(path), access == .readWrite ? .readWrite : .readOnly, options: .closeOnExec)
    } catch {
      switch Errno(error) {
      case .noSuchFileOrDirectory: throw missing
      case .permissionDenied, .readOnlyFileSystem, .notPermitted: throw .readOnly(path: path)
      case let errno: throw .system(path: path, operation: "open", errno: errno)
      }
    }
  }

  /// Unmaps and closes the files, which releases the lock.
  func close() {
    switch storage {
    case .mapped(let mapping): mapping.unmap()
    case .logFile(let log): try? log.close()
    }
    try? descriptor.close()
  }

  private static func directoryName(of path: FilePath) -> String {
    let directory = path.removingLastComponent()
    return directory.isEmpty ? "." : directory.string
  }

  private static func synchronizeDirectory(_ directory: String) throws(Errno) {
    let descriptor: FileDescriptor
    do {
      descriptor = try FileDescriptor.open(FilePath(directory), .readOnly, options: [.directory, .closeOnExec])
    } catch {
      throw Errno(error)
    }
    defer { try? descriptor.close() }
    try descriptor.synchronize()
  }
}
