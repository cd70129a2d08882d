import Foundation
import SystemPackage

/// A fresh directory, removed when the test ends.
package final class TestDirectory {
  package let path: String

  /// A directory on tmpfs, or with `onDisk` one under the system's temporary directory (an ordinary
  /// file system, for the file medium).
  package init(_ name: String = #function, onDisk: Bool = false) {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let parent = onDisk ? FileManager.default.temporaryDirectory.path : "/dev/shm"
    path = "\(parent)/snapshot-tests-\(getpid())-\(safe)-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }

  package func file(_ name: String) -> FilePath {
    FilePath("\(path)/\(name)")
  }
}

extension Data {
  /// The bytes of a file.
  package init(contentsOf path: FilePath) throws {
    try self.init(contentsOf: URL(fileURLWithPath: path.string))
  }

  /// Writes the bytes over a file.
  package func write(to path: FilePath) throws {
    try write(to: URL(fileURLWithPath: path.string))
  }
}
