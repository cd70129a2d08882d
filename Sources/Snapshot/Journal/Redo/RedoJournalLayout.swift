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
/// | 4 | 4 | checksum of the batch (see `RedoJournalLayout.Checksum`) |
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

  /// How each line of a batch is checksummed before the lines are folded together: by the region's
  /// format version.
  package enum LineChecksum: Sendable {
    /// Formats 1 to 3: the line's CRC32C.
    case crc32c
    /// Format 4 on: the line's XXH3-64, about twice as fast as its CRC32C where the processor's
    /// `crc32` instruction is slow (`XXH3`).
    case xxh3

    package init(formatVersion: UInt32) {
      self = formatVersion >= 4 ? .xxh3 : .crc32c
    }
  }

  /// The checksum of a batch: a CRC of the header's epoch, salt and counts and of each run word, and
  /// each line's own checksum (`LineChecksum`) folded by a `ChecksumChain`. Each line's checksum is
  /// independent of the others', so the processor can overlap many lines.
  package struct Checksum {
    private let implementation: CRC32C.Implementation
    private let lineChecksum: LineChecksum
    private var crc: UInt32
    private var lineChain = ChecksumChain()

    package init(
      _ implementation: CRC32C.Implementation, lines lineChecksum: LineChecksum, epoch: UInt64, salt: UInt64, countsWord: UInt64
    ) {
      self.implementation = implementation
      self.lineChecksum = lineChecksum
      crc = implementation.update(implementation.update(implementation.update(~0, word: epoch), word: salt), word: countsWord)
    }

    package mutating func add(word: UInt64) {
      crc = implementation.update(crc, word: word)
    }

    package mutating func add(lines: UnsafeRawPointer, count: Int) {
      var line = lines
      for _ in 0..<count {
        lineChain.add(checksum(line: line))
        line += 64
      }
    }

    @inline(__always)
    private func checksum(line: UnsafeRawPointer) -> UInt64 {
      switch lineChecksum {
      case .xxh3: XXH3.hash(line: line)
      case .crc32c: UInt64(implementation.lineCRC(line))
      }
    }

    package var value: UInt32 { ~implementation.update(crc, word: lineChain.value) }
  }
}
