import Foundation
import SystemPackage

/// A fresh directory on tmpfs (the persistent-memory stand-in), removed when the test ends.
final class TestDirectory {
  let path: String

  init(_ name: String = #function) {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    path = "/dev/shm/snapshot-tests-\(getpid())-\(safe)-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  }

  deinit {
    try? FileManager.default.removeItem(atPath: path)
  }

  func file(_ name: String) -> FilePath {
    FilePath("\(path)/\(name)")
  }
}

extension Data {
  /// The bytes of a file.
  init(contentsOf path: FilePath) throws {
    try self.init(contentsOf: URL(fileURLWithPath: path.string))
  }

  /// Writes the bytes over a file.
  func write(to path: FilePath) throws {
    try write(to: URL(fileURLWithPath: path.string))
  }
}
