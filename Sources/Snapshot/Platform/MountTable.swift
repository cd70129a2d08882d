#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The file system a path lives on, as far as deciding whether stores to a mapping of it are durable.
struct FileSystemKind: Equatable, Sendable {
  /// The type as `/proc/self/mounts` names it: `tmpfs`, `ext4`, `xfs`, ...
  var type: String
  /// Whether the file system is mounted with direct access (DAX) to persistent memory.
  var isDirectAccess: Bool

  /// Whether `path` names an existing directory.
  static func isDirectory(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
  }

  /// The file system holding `directory`, from the longest mount point that contains it.
  static func of(directory: String) -> FileSystemKind? {
    guard let resolved = realpath(directory, nil) else { return nil }
    defer { free(resolved) }
    let target = String(cString: resolved)
    guard let table = fopen("/proc/self/mounts", "r") else { return nil }
    defer { fclose(table) }
    var best: (mountPoint: String, kind: FileSystemKind)?
    var line: UnsafeMutablePointer<CChar>?
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, table) > 0, let line {
      let fields = String(cString: line).split(separator: " ")
      guard fields.count >= 4 else { continue }
      let mountPoint = unescapeMountField(fields[1])
      let contains = target == mountPoint || mountPoint == "/"
        || target.hasPrefix(mountPoint.hasSuffix("/") ? mountPoint : mountPoint + "/")
      guard contains, mountPoint.count >= (best?.mountPoint.count ?? 0) else { continue }
      let options = fields[3].split(separator: ",")
      let dax = options.contains { $0 == "dax" || $0 == "dax=always" }
      best = (mountPoint, FileSystemKind(type: String(fields[2]), isDirectAccess: dax))
    }
    return best?.kind
  }

  /// `/proc/self/mounts` writes spaces and other special characters in mount points as octal escapes.
  private static func unescapeMountField(_ field: Substring) -> String {
    var bytes: [UInt8] = []
    var index = field.utf8.startIndex
    let utf8 = field.utf8
    while index < utf8.endIndex {
      let byte = utf8[index]
      if byte == UInt8(ascii: "\\"), let end = utf8.index(index, offsetBy: 4, limitedBy: utf8.endIndex),
        let value = UInt8(String(decoding: utf8[utf8.index(after: index)..<end], as: UTF8.self), radix: 8)
      {
        bytes.append(value)
        index = end
      } else {
        bytes.append(byte)
        index = utf8.index(after: index)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
