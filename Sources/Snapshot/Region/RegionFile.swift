#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// The backing file of a region: its descriptor, the lock held on it, its checked header and the
/// shared mapping of the whole file.
final class RegionFile {
  let path: String
  let descriptor: FileDescriptor
  let header: RegionHeader
  let mapping: MemoryMapping

  /// How a file is opened: for use (exclusive lock; recovery may write) or for inspection (shared lock,
  /// read-only mapping; nothing is written).
  enum Access {
    case readWrite
    case inspect
  }

  private init(path: String, descriptor: FileDescriptor, header: RegionHeader, mapping: MemoryMapping) {
    self.path = path
    self.descriptor = descriptor
    self.header = header
    self.mapping = mapping
  }

  /// Creates the file under a temporary name, allocates all of it, writes the header and the journal's
  /// initial control line, makes it durable, and only then links it under `path` and syncs the
  /// directory. A crash during creation leaves no half-made region at `path`.
  static func create(at filePath: FilePath, header: RegionHeader, control: [UInt8]) throws(SnapshotError) -> RegionFile {
    let path = filePath.string
    let directory = directoryName(of: filePath)
    if access(path, F_OK) == 0 { throw .fileExists(path: path) }
    try PersistentMemory.checkSupported(directory: directory, path: path)

    let name = filePath.lastComponent?.string ?? "region"
    let temporary = "\(directory)/.\(name).creating-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
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
    var linked = false
    do throws(SnapshotError) {
      try step(path, "lock") { () throws(Errno) in _ = try descriptor.tryLock(.exclusive) }
      do {
        try descriptor.allocate(offset: 0, length: Int64(header.fileSize))
      } catch {
        throw error == .noSpace || error == .fileTooLarge
          ? .noSpace(path: path, needed: Int64(header.fileSize))
          : .system(path: path, operation: "allocate", errno: error)
      }
      try step(path, "write header") { () throws(Errno) in
        try descriptor.writeAll(header.encoded() + control, at: 0)
        try descriptor.synchronize()
      }
      if link(temporary, path) != 0 {
        let errno = Errno(rawValue: errno)
        throw errno == .fileExists ? .fileExists(path: path) : .system(path: path, operation: "link", errno: errno)
      }
      linked = true
      try step(path, "fsync directory") { () throws(Errno) in try synchronizeDirectory(directory) }
      let mapping = try step(path, "mmap") { () throws(Errno) in
        try MemoryMapping.shared(descriptor, length: header.fileSize, writable: true)
      }
      return RegionFile(path: path, descriptor: descriptor, header: header, mapping: mapping)
    } catch {
      if linked { unlink(path) }
      try? descriptor.close()
      throw error
    }
  }

  /// Opens, locks and checks an existing region file: header magic, version and checksum, then the
  /// file size the header implies. Nothing is mapped until the size is known to be right, so a
  /// truncated file cannot raise SIGBUS.
  static func open(at filePath: FilePath, access: Access) throws(SnapshotError) -> RegionFile {
    let path = filePath.string
    let descriptor: FileDescriptor
    do {
      // Close-on-exec: a child process must not inherit the descriptor, or the lock would outlive close().
      descriptor = try FileDescriptor.open(filePath, access == .readWrite ? .readWrite : .readOnly, options: .closeOnExec)
    } catch {
      switch Errno(error) {
      case .noSuchFileOrDirectory: throw .fileNotFound(path: path)
      case .permissionDenied, .readOnlyFileSystem, .notPermitted: throw .readOnly(path: path)
      case let errno: throw .system(path: path, operation: "open", errno: errno)
      }
    }
    do throws(SnapshotError) {
      if access == .readWrite, try step(path, "stat", descriptor.hasNoWritePermission) {
        throw SnapshotError.readOnly(path: path)
      }
      let locked = try step(path, "lock") { () throws(Errno) in
        try descriptor.lock(access == .readWrite ? .exclusive : .shared, patience: .milliseconds(50))
      }
      guard locked else { throw SnapshotError.locked(path: path) }
      let size = try step(path, "stat", descriptor.size)
      let prefix = try step(path, "read header") { () throws(Errno) in
        try descriptor.readPrefix(count: Int(min(size, 64)))
      }
      if prefix.count >= 8, prefix.withUnsafeBytes({ $0.loadUnaligned(as: UInt64.self) }) != RegionHeader.magic.littleEndian {
        throw SnapshotError.notARegion(path: path)
      }
      guard size >= Int64(RegionHeader.pageSize) else {
        throw SnapshotError.truncated(path: path, size: size, expected: Int64(RegionHeader.pageSize))
      }
      let header = try RegionHeader.decode(prefix, path: path)
      let expected = Int64(header.fileSize)
      if size < expected { throw SnapshotError.truncated(path: path, size: size, expected: expected) }
      if size > expected { throw SnapshotError.sizeMismatch(path: path, size: size, expected: expected) }
      if access == .readWrite {
        try PersistentMemory.checkSupported(directory: directoryName(of: filePath), path: path)
      }
      let mapping = try step(path, "mmap") { () throws(Errno) in
        try MemoryMapping.shared(descriptor, length: header.fileSize, writable: access == .readWrite)
      }
      return RegionFile(path: path, descriptor: descriptor, header: header, mapping: mapping)
    } catch {
      try? descriptor.close()
      throw error
    }
  }

  /// Unmaps the file and closes it, which releases the lock.
  func close() {
    mapping.unmap()
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

  /// Runs a system-call step, turning its `Errno` into a `SnapshotError` that names the file and step.
  private static func step<T>(_ path: String, _ operation: String, _ body: () throws(Errno) -> T) throws(SnapshotError) -> T {
    do {
      return try body()
    } catch {
      throw .system(path: path, operation: operation, errno: error)
    }
  }
}
