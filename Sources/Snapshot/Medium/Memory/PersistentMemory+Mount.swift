extension PersistentMemory {
  /// Checks that stores into a shared mapping of a file in `directory` reach the medium without the
  /// page cache in between: a DAX mount of persistent memory, or tmpfs, which stands in for it (its
  /// contents live as long as the machine is up, which is the durability a process crash tests).
  /// Anywhere else, cache-line flushes would only reach the page cache, and nothing would be durable.
  static func checkSupported(directory: String, path: String) throws(SnapshotError) {
    guard let kind = FileSystemKind.of(directory: directory) else {
      throw .mediumUnsupported(path: path, reason: "cannot tell which file system holds \(directory)")
    }
    guard kind.isDirectAccess || kind.type == "tmpfs" || kind.type == "ramfs" else {
      throw .mediumUnsupported(
        path: path,
        reason: "the persistent-memory medium needs a DAX or tmpfs mount, but this is \(kind.type): "
          + "stores would reach only the page cache; use a path on a DAX mount or /dev/shm")
    }
  }
}
