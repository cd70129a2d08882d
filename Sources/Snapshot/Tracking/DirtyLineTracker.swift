import SystemPackage

/// Which 64-byte lines of the working copy changed since the last msync: a bitmap, tested on every
/// tracked store, and a list of the changed lines in first-store order, walked by msync and discard.
/// Both live in anonymous memory sized for the whole region and touched only where lines change.
final class DirtyLineTracker {
  let bitmap: LineBitmap
  private let list: UnsafeMutablePointer<UInt32>
  private let listMapping: MemoryMapping
  private(set) var count = 0

  init(lineCount: Int) throws(Errno) {
    bitmap = try LineBitmap(lineCount: lineCount)
    listMapping = try .anonymous(length: lineCount * 4)
    list = listMapping.base.bindMemory(to: UInt32.self, capacity: lineCount)
  }

  deinit {
    listMapping.unmap()
  }

  /// The changed lines, each once, in the order they were first stored to.
  var lines: UnsafeBufferPointer<UInt32> {
    UnsafeBufferPointer(start: list, count: count)
  }

  /// Records the first store to `line`; the caller has checked that its bit is clear.
  @inline(__always)
  func insert(_ line: Int) {
    bitmap.insert(line)
    list[count] = UInt32(truncatingIfNeeded: line)
    count += 1
  }

  /// Clears exactly the bits that were set and empties the list. Every set bit is listed, so clearing
  /// a listed line's whole word clears nothing else.
  func removeAll() {
    for line in lines {
      bitmap.clearWord(containing: Int(line))
    }
    count = 0
  }

  /// Checks that the bitmap and the list describe the same set of lines.
  func _checkInvariants(lineCount: Int) {
    bitmap._checkInvariants(listed: Array(lines), lineCount: lineCount)
  }
}
