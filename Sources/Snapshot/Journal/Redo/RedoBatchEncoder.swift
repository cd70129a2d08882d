/// Where the bytes of a redo batch go as it is encoded: straight into the log on a memory medium, or
/// into a buffer that one `pwrite` then appends to the log file.
protocol RedoBatchSink {
  /// Stores a word of the batch's head, `offset` bytes from the batch's start.
  func storeWord(_ word: UInt64, at offset: Int)

  /// Writes `count` lines of the working copy, from `source`, `offset` bytes from the batch's start,
  /// and returns where those bytes can be read exactly as written: the checksum is taken from there,
  /// so a line that another thread changes meanwhile cannot disagree with its checksum.
  func writeLines(from source: UnsafeRawPointer, count: Int, at offset: Int) -> UnsafeRawPointer
}

/// Encodes one batch of the redo log (the format of `RedoJournalLayout`), for every medium.
struct RedoBatchEncoder {
  let crc: CRC32C.Implementation
  let lineChecksum: RedoJournalLayout.LineChecksum
  let working: UnsafeRawPointer

  /// The batch of `lines` (`runCount` runs) with `epoch` and `salt`: epoch, salt and counts first, so
  /// that a batch interrupted while its data is written is recognisable as such; then the run words
  /// and the lines, run after run; the magic and the checksum last. The checksum covers the run words
  /// first, then the lines, as the reader checks them.
  @inline(__always)
  func encode<Sink: RedoBatchSink>(
    _ lines: UnsafeBufferPointer<UInt32>, runCount: Int, epoch: UInt64, salt: UInt64, into sink: Sink
  ) {
    let counts = RedoJournalLayout.countsWord(lineCount: lines.count, runCount: runCount)
    var checksum = RedoJournalLayout.Checksum(crc, lines: lineChecksum, epoch: epoch, salt: salt, countsWord: counts)
    sink.storeWord(epoch, at: 8)
    sink.storeWord(salt, at: 16)
    sink.storeWord(counts, at: 24)
    var runWord = RedoJournalLayout.headerSize
    for run in lines.lineRuns {
      let word = RedoJournalLayout.runWord(first: run.first, count: run.count)
      checksum.add(word: word)
      sink.storeWord(word, at: runWord)
      runWord += 8
    }
    var data = RedoJournalLayout.headSize(runCount: runCount)
    for run in lines.lineRuns {
      checksum.add(lines: sink.writeLines(from: working + run.first * 64, count: run.count, at: data), count: run.count)
      data += 64 * run.count
    }
    sink.storeWord(UInt64(RedoJournalLayout.magic) | UInt64(checksum.value) << 32, at: 0)
  }
}
