import SystemPackage

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
package enum RedoJournalLayout {
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

  static func encodeCheckpoint(epoch: UInt64, salt: UInt64) -> UInt64 {
    ControlWord.seal(epoch, salt: salt)
  }

  /// The epoch of a checkpoint word, or nil when its check bits do not match.
  static func decodeCheckpoint(_ word: UInt64, salt: UInt64) -> UInt64? {
    ControlWord.open(word, salt: salt)
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

/// A commit protocol with one fence per msync.
///
/// - Store path: nothing reaches the medium; the region only marks lines dirty.
/// - msync: the changed lines' new contents, coalesced into runs, are appended to the log as one batch
///   whose header carries the epoch, the salt and a checksum over everything; one fence makes it
///   durable, and that is the commit point: a torn batch fails its checksum. Nothing else is written:
///   the committed state is the home copy plus the batches since the last checkpoint.
/// - Checkpoint (when the log holds `checkpointThreshold` bytes, when the next batch would not fit, at
///   close, after recovery): the newest logged version of every line goes home (a line committed many
///   times is written once), fence, then the checkpoint word with the last epoch, flush, fence. Only then
///   is the log reused from its start.
/// - Recovery (`RedoJournal+Recovery`) replays every valid batch after the checkpoint, then checkpoints.
final class RedoJournal<Medium: ByteAddressableMedium>: CheckpointingJournal {
  let medium: Medium
  var faults: Fault { medium.faults }
  let header: RegionHeader
  let working: UnsafeRawPointer
  let crc = CRC32C.Implementation.detected
  private(set) var epoch: UInt64
  private(set) var bytesWritten = 0
  /// Log bytes after which the next msync checkpoints first: this bounds both the time a checkpoint
  /// takes and the log recovery replays after a crash.
  var checkpointThreshold: Int
  /// Where the next batch goes, relative to the start of the log.
  private var tail = 0
  /// Where each batch since the last checkpoint starts, oldest first.
  private var batches: [Int] = []
  /// Scratch bits, all clear between calls: at a checkpoint, the lines already written home; in
  /// `restore`, the lines wanted.
  private let scratch: LineBitmap
  /// When threads share the working copy: lines are copied here, checksummed and written from here,
  /// so that a line changing meanwhile cannot disagree with its checksum.
  private var staging: UnsafeMutableRawPointer?
  private static var stagingLines: Int { 64 }

  static var defaultCheckpointThreshold: Int { 64 << 20 }

  var logSpace: (used: Int, capacity: Int) { (tail, header.logSize) }

  init(medium: Medium, header: RegionHeader, working: UnsafeRawPointer, epoch: UInt64) throws(Errno) {
    self.medium = medium
    self.header = header
    self.working = working
    self.epoch = epoch
    self.checkpointThreshold = min(header.logSize, Self.defaultCheckpointThreshold)
    self.scratch = try LineBitmap(lineCount: header.lineCount)
    batches.reserveCapacity(1024)
  }

  func lineWillChange(_ line: Int) {}

  func workingCopyIsShared() {
    guard staging == nil else { return }
    staging = UnsafeMutableRawPointer.allocate(byteCount: Self.stagingLines * 64, alignment: 64)
  }

  deinit {
    staging?.deallocate()
  }

  @_specialize(exported: false, where Medium == PersistentMemory)
  func commit(_ lines: UnsafeBufferPointer<UInt32>) {
    let next = epoch + 1
    var runCount = 0
    for _ in lines.lineRuns { runCount += 1 }
    let head = RedoJournalLayout.headSize(runCount: runCount)
    let size = head + 64 * lines.count
    if tail + size > header.logSize || tail >= checkpointThreshold {
      checkpoint()
    }
    let batch = header.logOffset + tail
    let counts = RedoJournalLayout.countsWord(lineCount: lines.count, runCount: runCount)
    var checksum = RedoJournalLayout.Checksum(crc, epoch: next, salt: header.salt, countsWord: counts)

    // Epoch and salt first: a batch interrupted while its data is written is then recognisable as such.
    medium.storeWord(next, at: batch + 8)
    medium.storeWord(header.salt, at: batch + 16)
    medium.storeWord(counts, at: batch + 24)
    var runWord = batch + RedoJournalLayout.headerSize
    var data = batch + head
    for run in lines.lineRuns {
      let word = RedoJournalLayout.runWord(first: run.first, count: run.count)
      checksum.add(word: word)
      medium.storeWord(word, at: runWord)
      runWord += 8
    }
    for run in lines.lineRuns {
      // Straight from the working copy in one piece, or through the staging buffer a piece at a time.
      var line = run.first
      while line < run.first + run.count {
        var source = UnsafeRawPointer(working + line * 64)
        var count = run.first + run.count - line
        if let staging {
          count = min(count, Self.stagingLines)
          staging.copyMemory(from: source, byteCount: count * 64)
          source = UnsafeRawPointer(staging)
        }
        checksum.add(lines: source, count: count)
        medium.streamLines(from: source, lineCount: count, at: data)
        data += 64 * count
        line += count
      }
    }
    medium.storeWord(UInt64(RedoJournalLayout.magic) | UInt64(checksum.value) << 32, at: batch)
    medium.flushLog(at: batch, count: head)
    medium.fence(unless: .dropCommitFence)

    batches.append(tail)
    tail += size
    bytesWritten += size
    epoch = next
  }

  /// The last committed contents of `lines` are the newest logged version since the checkpoint, or
  /// the home copy's.
  func restore(_ lines: UnsafeBufferPointer<UInt32>, into working: UnsafeMutableRawPointer) {
    // The scratch bitmap marks the wanted lines, so that walking the log costs a bit test per line.
    for line in lines { scratch.insert(Int(line)) }
    var newest: [Int: Int] = [:]
    let log = Self.reader(medium: medium, header: header)
    for batch in batches {
      log.forEachRun(ofBatchAt: batch) { first, count, data in
        for line in first..<first + count where scratch.contains(line) {
          newest[line] = header.logOffset + data + (line - first) * 64
        }
      }
    }
    for line in lines.map(Int.init) {
      scratch.clearWord(containing: line)
      let source = newest[line] ?? header.dataOffset + line * 64
      (working + line * 64).copyMemory(from: medium.base + source, byteCount: 64)
    }
  }

  @_specialize(exported: false, where Medium == PersistentMemory)
  func checkpoint() {
    guard !batches.isEmpty else { return }
    if medium.faults.contains(.commitBeforePayload) {
      RedoJournalLayout.writeCheckpoint(epoch: epoch, medium: medium, header: header)
    }
    let lines = RedoJournalLayout.writeHome(batches: batches, medium: medium, header: header, written: scratch)
    RedoJournalLayout.writeCheckpoint(epoch: epoch, medium: medium, header: header)
    bytesWritten += lines * 64 + 8
    batches.removeAll(keepingCapacity: true)
    tail = 0
  }
}
