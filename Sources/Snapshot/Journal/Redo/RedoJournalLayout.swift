/// Where the redo journal keeps its records: one checkpoint word in the control line of the header
/// page, and batches appended one after another in the log area, from its start after each checkpoint.
///
/// Checkpoint word: the epoch, sealed (`ControlWord`); the home copy holds every commit up to that
/// epoch durably.
///
/// Batch, line-aligned:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic "RDO1" |
/// | 4 | 4 | CRC32C of the batch (see `RedoJournalLayout.Checksum`) |
/// | 8 | 8 | epoch |
/// | 16 | 8 | salt |
/// | 24 | 4 | number of lines |
/// | 28 | 4 | number of runs |
/// | 32 | 8 per run | run: first line (4 bytes), line count (4 bytes) |
/// | next line boundary | 64 per line | the lines' new contents, run after run |
package enum RedoJournalLayout: MemoryJournalLayout {
  static let checkpointWord = RegionHeader.controlOffset
  package static let magic: UInt32 = 0x314F_4452  // "RDO1"
  package static let headerSize = 32

  /// The worst case: every line of the region in one batch, each a run of its own. A batch therefore
  /// always fits after a checkpoint, and a commit can never overflow the log.
  static func logSize(lineCount: Int) -> Int {
    roundUp(batchSize(lineCount: lineCount, runCount: lineCount), to: RegionHeader.pageSize)
  }

  package static func headSize(runCount: Int) -> Int {
    roundUp(headerSize + 8 * runCount, to: 64)
  }

  static func batchSize(lineCount: Int, runCount: Int) -> Int {
    headSize(runCount: runCount) + 64 * lineCount
  }

  static func initialControlWord(salt: UInt64) -> UInt64 {
    encodeCheckpoint(epoch: 0, salt: salt)
  }

  /// The epoch of a checkpoint word, or nil when its check bits do not match.
  static func checkpointEpoch(controlWord: UInt64, salt: UInt64) -> UInt64? {
    ControlWord.open(controlWord, salt: salt)
  }

  static func encodeCheckpoint(epoch: UInt64, salt: UInt64) -> UInt64 {
    ControlWord.seal(epoch, salt: salt)
  }

  static func countsWord(lineCount: Int, runCount: Int) -> UInt64 {
    UInt64(lineCount) | UInt64(runCount) << 32
  }

  static func runWord(first: Int, count: Int) -> UInt64 {
    UInt64(first) | UInt64(count) << 32
  }

  /// The checksum of a batch: a CRC of the header's epoch, salt and counts and of each run word, and
  /// the CRC of each line of data folded by a `ChecksumChain`. Each line's CRC is an independent chain,
  /// so the processor can overlap many lines.
  package struct Checksum {
    private let implementation: CRC32C.Implementation
    private var crc: UInt32
    private var lineChain = ChecksumChain()

    package init(_ implementation: CRC32C.Implementation, epoch: UInt64, salt: UInt64, countsWord: UInt64) {
      self.implementation = implementation
      crc = implementation.update(implementation.update(implementation.update(~0, word: epoch), word: salt), word: countsWord)
    }

    package mutating func add(word: UInt64) {
      crc = implementation.update(crc, word: word)
    }

    package mutating func add(lines: UnsafeRawPointer, count: Int) {
      var line = lines
      for _ in 0..<count {
        lineChain.add(implementation.lineCRC(line))
        line += 64
      }
    }

    package var value: UInt32 { ~implementation.update(crc, word: lineChain.value) }
  }
}
