extension RedoJournalLayout {
  /// Stores the checkpoint word (one atomic 8-byte store) and makes it durable. Only after this may the
  /// log be reused from its start.
  static func writeCheckpoint<Medium: ByteAddressableMedium>(epoch: UInt64, medium: Medium, header: RegionHeader) {
    let word = encodeCheckpoint(epoch: epoch, salt: header.salt)
    if medium.faults.contains(.splitCommitWord) {
      withUnsafeBytes(of: word.littleEndian) { bytes in
        medium.store(from: bytes.baseAddress!, count: 4, at: checkpointWord)
        medium.store(from: bytes.baseAddress! + 4, count: 4, at: checkpointWord + 4)
      }
    } else {
      medium.storeWord(word, at: checkpointWord)
    }
    medium.flush(at: checkpointWord, count: 8)
    medium.fence(unless: .dropRetireFence)
  }

  /// Calls `body(first line, line count, data offset)` for each run of the valid batch at `offset`.
  static func forEachRun<Medium: ByteAddressableMedium>(
    ofBatchAt offset: Int, medium: Medium, _ body: (Int, Int, Int) -> Void
  ) {
    let runCount = Int(medium.loadWord(at: offset + 24) >> 32)
    var data = offset + headSize(runCount: runCount)
    for run in 0..<runCount {
      let word = medium.loadWord(at: offset + headerSize + run * 8)
      let count = Int(word >> 32)
      body(Int(word & 0xFFFF_FFFF), count, data)
      data += count * 64
    }
  }

  /// Writes the newest version of every line of the valid `batches` (log offsets, oldest first) to
  /// the home copy, then fences. Going newest first and skipping lines already written, a line
  /// committed in many batches is written once. `written` is all clear on entry and on return.
  static func writeHome<Medium: ByteAddressableMedium>(
    batches: [Int], medium: Medium, header: RegionHeader, written: LineBitmap
  ) {
    for batch in batches.reversed() {
      forEachRun(ofBatchAt: header.logOffset + batch, medium: medium) { first, count, data in
        var line = first
        while line < first + count {
          guard !written.contains(line) else {
            line += 1
            continue
          }
          var end = line + 1
          while end < first + count, !written.contains(end) { end += 1 }
          medium.streamLines(
            from: medium.base + data + (line - first) * 64, lineCount: end - line,
            at: header.dataOffset + line * 64)
          for marked in line..<end { written.insert(marked) }
          line = end
        }
      }
    }
    medium.fence(unless: .dropCheckpointFence)
    for batch in batches {
      forEachRun(ofBatchAt: header.logOffset + batch, medium: medium) { first, count, _ in
        for line in stride(from: first, to: first + count, by: 64) { written.clearWord(containing: line) }
        written.clearWord(containing: first + count - 1)
      }
    }
  }
}
