import SystemPackage

/// Everything that can go wrong when creating, opening, committing or closing a region.
///
/// Every case names the file and says what a person can do about it. None of them leaves the durable
/// copy changed: an operation that throws either did nothing durable or, for `msync`, left the previous
/// committed state in place.
public enum SnapshotError: Error, Equatable, Sendable, CustomStringConvertible {
  /// The file does not exist.
  case fileNotFound(path: String)
  /// `create` was asked to make a region where a file already exists.
  case fileExists(path: String)
  /// The directory a region was to be created in does not exist.
  case directoryNotFound(path: String)
  /// The file does not start with a region header: it is some other kind of file.
  case notARegion(path: String)
  /// The file ends before its header does, or before the data and log its header describes.
  case truncated(path: String, size: Int64, expected: Int64)
  /// The file is longer than its header describes, or not the size the caller expected.
  case sizeMismatch(path: String, size: Int64, expected: Int64)
  /// The file was written by a format version this library does not read.
  case unsupportedFormatVersion(path: String, found: UInt32, supported: UInt32)
  /// The header fails its checksum or describes an impossible layout.
  case headerCorrupt(path: String, reason: String)
  /// The log holds a record that fails its checksum where a crash cannot explain it.
  case logCorrupt(path: String, reason: String)
  /// A redo batch is damaged or missing, yet a commit acknowledged after it is intact further on in the
  /// log. No crash leaves a log like that; replaying up to the damage would silently lose the later
  /// commits, so nothing is replayed and nothing is changed.
  case damagedBeforeLaterCommit(path: String, epoch: UInt64, offset: Int, laterEpoch: UInt64, laterOffset: Int)
  /// Another open file description (usually another process) has the region open.
  case locked(path: String)
  /// The file or its file system does not allow writing.
  case readOnly(path: String)
  /// The file system has no room for the region.
  case noSpace(path: String, needed: Int64)
  /// The requested size cannot be used.
  case invalidSize(requested: Int, reason: String)
  /// An allocation does not fit in the region; nothing was changed.
  case regionFull(requested: Int, available: Int)
  /// A region was to grow past the largest size its handle allows; nothing was changed.
  case maximumSizeReached(path: String, requested: Int, maximum: Int)
  /// A structure stored in the region (a heap block, a tree node, a hash chain) holds a value no
  /// correct store holds: its bytes were changed outside this library. The operation that found it
  /// changed nothing, unless the damage showed only once the heap had handed out memory in use: then
  /// that allocation is made, uncommitted (`Region.discard()` undoes it).
  case storeCorrupt(offset: Int, reason: String)
  /// The creation options do not go together.
  case invalidOptions(reason: String)
  /// The medium cannot give the durability the region was asked for at this path.
  case mediumUnsupported(path: String, reason: String)
  /// The region's log file is missing: the commits made since its last checkpoint are in it.
  case logMissing(path: String)
  /// Writing or syncing a commit failed. The kernel may have dropped what it could not write, so the
  /// handle stays unusable: every later commit throws this error again. Reopening the region recovers
  /// the last acknowledged commit.
  case commitFailed(path: String, operation: String, errno: Errno)
  /// The region was used after `close()`.
  case closed(path: String)
  /// A replicated region's commit was not acknowledged by its replicated log (or the log refused it, a
  /// newer primary having taken over), so it was not made: the changes are still in the working copy.
  /// The region commits no more through this handle: reopen it, which brings it to what the log holds.
  case replicationFailed(path: String, reason: String)
  /// A system call failed in a way none of the other cases describes.
  case system(path: String, operation: String, errno: Errno)

  public var description: String {
    switch self {
    case .fileNotFound(let path):
      return "\(path): no such file; create the region first (snapshot create \(path) --size 64M)"
    case .fileExists(let path):
      return "\(path): a file already exists there; remove it or choose another path"
    case .directoryNotFound(let path):
      return "\(path): no such directory; create it first (mkdir -p \(path)) or choose another path"
    case .notARegion(let path):
      return "\(path): not a Snapshot region (wrong magic number); check the path"
    case .truncated(let path, let size, let expected):
      return "\(path): truncated: the file has \(size) bytes but its header needs \(expected); "
        + "restore it from a copy"
    case .sizeMismatch(let path, let size, let expected):
      return "\(path): size mismatch: the file has \(size) bytes where \(expected) are expected"
    case .unsupportedFormatVersion(let path, let found, let supported):
      return "\(path): format version \(found) is not supported (this library reads version \(supported)); "
        + "use the library version that wrote it"
    case .headerCorrupt(let path, let reason):
      return "\(path): header corrupt: \(reason); the file was changed outside this library"
    case .logCorrupt(let path, let reason):
      return "\(path): log corrupt: \(reason); nothing was changed, restore the file from a copy"
    case .damagedBeforeLaterCommit(let path, let epoch, let offset, let laterEpoch, let laterOffset):
      return "\(path): log corrupt: redo batch \(epoch) at log offset \(offset) is damaged or missing, but commit "
        + "\(laterEpoch), acknowledged after it, is intact at log offset \(laterOffset); opening would silently lose "
        + "acknowledged commits, so nothing was changed. Restore the file from a copy"
    case .locked(let path):
      return "\(path): in use: another process (or another open handle) has the region open"
    case .readOnly(let path):
      return "\(path): read-only: a region needs write access to the file and its file system "
        + "(chmod u+w, or open a writable copy)"
    case .noSpace(let path, let needed):
      return "\(path): no space: the file system cannot hold the \(needed) bytes the region needs; "
        + "free space or choose a smaller size"
    case .invalidSize(let requested, let reason):
      return "size \(requested): \(reason)"
    case .storeCorrupt(let offset, let reason):
      return "store corrupt at offset \(offset): \(reason); its bytes were changed outside this library. "
        + "Restore the file from a copy"
    case .invalidOptions(let reason):
      return reason
    case .regionFull(let requested, let available):
      return "region full: \(requested) bytes requested, \(available) free in one piece; nothing was changed. "
        + "Delete data, or copy it into a larger region"
    case .maximumSizeReached(let path, let requested, let maximum):
      return "\(path): cannot grow to \(requested) bytes: this handle allows at most \(maximum); nothing was changed. "
        + "Reopen the region with a larger maximum size (up to \(Region.defaultMaximumSize) bytes)"
    case .mediumUnsupported(let path, let reason):
      return "\(path): \(reason)"
    case .logMissing(let path):
      return "\(path): the region's log file is missing; it holds the commits since the last checkpoint. "
        + "Restore it, or open a copy of the region made with its log"
    case .commitFailed(let path, let operation, let errno):
      return "\(path): \(operation) failed (\(errno)); this handle can no longer commit. Close it and reopen "
        + "the region: recovery restores the last acknowledged commit"
    case .closed(let path):
      return "\(path): the region is closed"
    case .replicationFailed(let path, let reason):
      return "\(path): the commit was not made, because it was not replicated: \(reason). Reopen the region to continue from what the replicated log holds"
    case .system(let path, let operation, let errno):
      return "\(path): \(operation) failed: \(errno)"
    }
  }
}

extension SnapshotError {
  /// Runs a system-call step, turning its `Errno` into `.system`, naming the file and the step.
  static func step<T>(_ path: @autoclosure () -> String, _ operation: String, _ body: () throws(Errno) -> T) throws(SnapshotError) -> T {
    do {
      return try body()
    } catch {
      // The path is formatted only for the message: a step on the msync path costs nothing more.
      throw .system(path: path(), operation: operation, errno: error)
    }
  }

  /// A step that allocates memory for a region's bookkeeping (bitmaps, the working copy).
  static func allocating<T>(_ path: @autoclosure () -> String, _ body: () throws(Errno) -> T) throws(SnapshotError) -> T {
    try step(path(), "allocate memory", body)
  }
}
