#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

// System calls swift-system does not wrap, in its style: typed `Errno`, retry on EINTR.
extension FileDescriptor {
  /// Makes the file's data and the metadata needed to read it durable (`fdatasync`).
  func synchronizeData() throws(Errno) {
    try Self.retryingOnInterrupt { fdatasync(rawValue) }
  }

  /// Makes the file's data and all its metadata durable (`fsync`).
  func synchronize() throws(Errno) {
    try Self.retryingOnInterrupt { fsync(rawValue) }
  }

  /// Allocates backing store for `length` bytes at `offset`, so that later writes cannot fail for lack
  /// of space (`posix_fallocate`). On tmpfs and persistent-memory file systems this also prevents the
  /// SIGBUS a store into an unallocated page of a full file system would raise.
  func allocate(offset: Int64, length: Int64) throws(Errno) {
    var result: Int32
    repeat {
      result = posix_fallocate(rawValue, off_t(offset), off_t(length))
    } while result == EINTR
    if result != 0 { throw Errno(rawValue: result) }
  }

  /// The kind of lock `tryLock` takes.
  enum LockKind {
    case shared
    case exclusive
  }

  /// Takes an advisory lock on the open file description without waiting (`flock`). Returns false when
  /// another open file description holds a conflicting lock. The lock belongs to this descriptor and is
  /// released when it is closed, not by a `close` of some other descriptor of the same file.
  func tryLock(_ kind: LockKind) throws(Errno) -> Bool {
    let operation = (kind == .exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB
    while flock(rawValue, operation) != 0 {
      let error = Errno(rawValue: errno)
      if error == .wouldBlock { return false }
      if error != .interrupted { throw error }
    }
    return true
  }

  /// The file's size in bytes.
  func size() throws(Errno) -> Int64 {
    try stat().size
  }

  /// Whether no write permission bit is set: the owner marked the file read-only. Root could still
  /// write it, but a region honours the mark rather than silently changing a file meant to stay as is.
  func hasNoWritePermission() throws(Errno) -> Bool {
    try stat().permissions.isDisjoint(with: [.ownerWrite, .groupWrite, .otherWrite])
  }

  /// Takes the lock, retrying for up to `patience` while it is busy. Between `fork` and `exec`, a child
  /// process shares its parent's open file descriptions, and with them their locks: a region closed
  /// at that instant stays locked for a moment. Returns false when the lock stays busy.
  func lock(_ kind: LockKind, patience: Duration) throws(Errno) -> Bool {
    let deadline = ContinuousClock.now + patience
    var pause = Duration.microseconds(100)
    while true {
      if try tryLock(kind) { return true }
      if ContinuousClock.now >= deadline { return false }
      let (seconds, attoseconds) = pause.components
      var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
      nanosleep(&request, nil)
      pause = min(pause * 2, .milliseconds(10))
    }
  }

  private static func retryingOnInterrupt(_ call: () -> Int32) throws(Errno) {
    while call() != 0 {
      let error = Errno(rawValue: errno)
      if error != .interrupted { throw error }
    }
  }
}

extension Errno {
  /// The `Errno` swift-system's untyped `throws` carries.
  init(_ error: any Error) {
    self = error as? Errno ?? .ioError
  }
}

extension FileDescriptor {
  /// Writes all of `bytes` at `offset`, continuing after a short write (which a file system may make
  /// near a full disk or on a signal) until every byte is written or a write fails.
  func writeAll(_ bytes: [UInt8], at offset: Int64) throws(Errno) {
    do {
      _ = try writeAll(toAbsoluteOffset: offset, bytes)
    } catch {
      throw Errno(error)
    }
  }

  /// Reads up to `count` bytes from the start of the file.
  func readPrefix(count: Int) throws(Errno) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    do {
      let read = try bytes.withUnsafeMutableBytes { try self.read(fromAbsoluteOffset: 0, into: $0) }
      return Array(bytes[0..<read])
    } catch {
      throw Errno(error)
    }
  }
}
