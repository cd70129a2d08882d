import SystemPackage

/// One bit per 64-byte line of a region, in anonymous memory that is touched only where bits are set.
final class LineBitmap {
  let words: UnsafeMutablePointer<UInt64>
  private let mapping: MemoryMapping

  init(lineCount: Int) throws(Errno) {
    let wordCount = (lineCount + 63) / 64
    mapping = try .anonymous(length: wordCount * 8)
    words = mapping.base.bindMemory(to: UInt64.self, capacity: wordCount)
  }

  deinit {
    mapping.unmap()
  }

  @inline(__always)
  func contains(_ line: Int) -> Bool {
    words[line &>> 6] & (1 &<< UInt64(line & 63)) != 0
  }

  @inline(__always)
  func insert(_ line: Int) {
    words[line &>> 6] |= 1 &<< UInt64(line & 63)
  }

  /// Clears the word holding `line`'s bit, and with it the bits of its 63 neighbours.
  @inline(__always)
  func clearWord(containing line: Int) {
    words[line &>> 6] = 0
  }
}
