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

/// A deterministic random number generator (SplitMix64), so that a failing seed can be replayed.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64

  init(seed: UInt64) {
    state = seed
  }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
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
