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

  /// Sets the bits of `lines`, appending to `touched` the index of each word that was all clear
  /// before, so that `clearWords(touched)` clears them all again.
  @inline(__always)
  func insert(_ lines: Range<Int>, recordingClearWordsIn touched: inout [Int]) {
    for line in lines {
      let index = line &>> 6
      let word = words[index]
      if word == 0 { touched.append(index) }
      words[index] = word | 1 &<< UInt64(line & 63)
    }
  }

  /// Clears the words at `indices`.
  func clearWords(_ indices: [Int]) {
    for index in indices { words[index] = 0 }
  }

  /// Checks that `listed` names every set bit exactly once, and nothing else.
  func _checkInvariants(listed: [UInt32], lineCount: Int) {
    var seen = Set<UInt32>()
    for line in listed {
      precondition(Int(line) < lineCount, "dirty line \(line) out of range")
      precondition(seen.insert(line).inserted, "dirty line \(line) listed twice")
      precondition(contains(Int(line)), "listed line \(line) has no bit")
    }
    var bits = 0
    for word in 0..<(lineCount + 63) / 64 { bits += words[word].nonzeroBitCount }
    precondition(bits == listed.count, "\(bits) bits set for \(listed.count) listed lines")
  }

  /// Clears the word holding `line`'s bit, and with it the bits of its 63 neighbours.
  @inline(__always)
  func clearWord(containing line: Int) {
    words[line &>> 6] = 0
  }
}
