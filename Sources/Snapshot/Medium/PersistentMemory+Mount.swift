#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension PersistentMemory {
  /// Checks that stores into a shared mapping of a file in `directory` reach the medium without the
  /// page cache in between: a DAX mount of persistent memory, or tmpfs, which stands in for it (its
  /// contents live as long as the machine is up, which is the durability a process crash tests).
  /// Anywhere else, cache-line flushes would only reach the page cache, and nothing would be durable.
  ///
  /// ``forceVariable`` set to 1 in the environment skips the check, as `PMEM_IS_PMEM_FORCE=1` does for
  /// PMDK: for emulated devices only (the benchmarks' CXL emulation maps a file on a disk and keeps
  /// its page cache small), where what survives a crash is whatever the emulation says.
  static func checkSupported(directory: String, path: String) throws(SnapshotError) {
    if let force = getenv(forceVariable), String(cString: force) == "1" { return }
    guard let kind = FileSystemKind.of(directory: directory) else {
      throw .mediumUnsupported(path: path, reason: "cannot tell which file system holds \(directory)")
    }
    guard kind.isDirectAccess || kind.type == "tmpfs" || kind.type == "ramfs" else {
      throw .mediumUnsupported(
        path: path,
        reason: "the persistent-memory medium needs a DAX or tmpfs mount, but this is \(kind.type): "
          + "stores would reach only the page cache; use a path on a DAX mount or /dev/shm "
          + "(\(forceVariable)=1 accepts it for emulation only: then nothing is durable past the page cache)")
    }
  }

  /// The environment variable that makes any file system acceptable for the persistent-memory medium.
  package static let forceVariable = "SNAPSHOT_PM_FORCE"
}
