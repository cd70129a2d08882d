extension MemoryRedoJournal {
  /// Stores the checkpoint word (one atomic 8-byte store) and makes it durable. Only after this may the
  /// log be reused from its start. The size checkpointed goes beside it (`SizeRecords`), in the same
  /// line.
  static func writeCheckpoint(epoch: UInt64, medium: Medium, header: RegionHeader) {
    if header.canGrow {
      medium.storeWord(SizeRecords.checkpointedSizeWord(header.dataSize, salt: header.salt), at: SizeRecords.checkpointedSizeOffset)
    }
    let word = RedoJournalLayout.encodeCheckpoint(epoch: epoch, salt: header.salt)
    if medium.faults.contains(.splitCommitWord) {
      withUnsafeBytes(of: word.littleEndian) { bytes in
        medium.store(from: bytes.baseAddress!, count: 4, at: RedoJournalLayout.checkpointWord)
        medium.store(from: bytes.baseAddress! + 4, count: 4, at: RedoJournalLayout.checkpointWord + 4)
      }
    } else {
      medium.storeWord(word, at: RedoJournalLayout.checkpointWord)
    }
    medium.flush(at: RedoJournalLayout.checkpointWord, count: 16)
    medium.fence(unless: .dropRetireFence)
  }

  /// Writes the newest version of every line of the valid `batches` (log positions, oldest first) to
  /// the home copy, then fences. With `deduplicating`, a line committed in many batches is written
  /// once, and not at all if one of the `newer` batches (logged after them, oldest first, and written
  /// home later) holds it; without, every run is written, oldest batch first
  /// (`CheckpointDeduplication`). `written` is all clear on entry and on return. Returns the number of
  /// lines written.
  @discardableResult
  static func writeHome(
    batches: ArraySlice<Int>, newer: ArraySlice<Int> = [], medium: Medium, header: RegionHeader, written: LineBitmap,
    deduplicating: Bool = true
  ) -> Int {
    // The runs are written by closure literals, not a local function: a local function that counts
    // into `lines` makes it a boxed variable, and every run then paid Swift's run-time exclusivity
    // check (about 22 instructions per operation of YCSB A, callgrind).
    var lines = 0
    let reader = reader(medium: medium, header: header)
    if deduplicating || Medium.prefersAddressOrder {
      reader.forEachNewestRun(of: batches, newer: newer, visited: written, inAddressOrder: Medium.prefersAddressOrder) {
        line, count, data in
        writeRunHome(line: line, count: count, data: data, medium: medium, header: header)
        lines += count
      }
    } else {
      for batch in medium.faults.contains(.checkpointNewestFirst) ? Array(batches.reversed())[...] : batches {
        reader.forEachRun(ofBatchAt: batch) { line, count, data in
          writeRunHome(line: line, count: count, data: data, medium: medium, header: header)
          lines += count
        }
      }
    }
    medium.fence(unless: .dropCheckpointFence)
    return lines
  }

  /// Streams the `count` logged lines at log position `data` to their home, from `line` on.
  @inline(__always)
  private static func writeRunHome(line: Int, count: Int, data: Int, medium: Medium, header: RegionHeader) {
    medium.streamLines(from: medium.base + header.logOffset + data, lineCount: count, at: header.dataOffset + line * 64)
  }

  /// Cuts a log grown for a large batch back to its resting size, once a durable checkpoint has
  /// retired the batches in it. Not synced: if a crash undoes the cut, the longer log holds only
  /// retired batches. A cut that fails leaves the log longer, which costs space, not data.
  static func restLog(medium: Medium, header: RegionHeader) {
    let resting = header.logOffset + header.logSize
    guard medium.length > resting else { return }
    try? medium.resize(to: resting)
  }
}
