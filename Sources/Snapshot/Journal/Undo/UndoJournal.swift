/// Where the undo journal keeps its records: the control line of the header page, then the log area
/// (one 16-byte metadata record per logged line, then the 64-byte line images).
///
/// Control line words: state (the epoch and an active bit, sealed by `ControlWord`), entry count,
/// checksum of the active record.
/// Metadata record: `line | (epoch & 0xFFFF_FFFF) << 32`, then the entry's CRC32C.
package enum UndoJournalLayout: MemoryJournalLayout {
  package static let stateWord = RegionHeader.controlOffset
  package static let countWord = RegionHeader.controlOffset + 8
  package static let checksumWord = RegionHeader.controlOffset + 16

  /// The worst case: every line of the region logged in one epoch. Each line is logged at most once
  /// per epoch, so the log can never overflow.
  static func logSize(lineCount: Int) -> Int {
    roundUp(metadataSize(lineCount: lineCount) + lineCount * 64, to: RegionHeader.pageSize)
  }

  package static func metadataSize(lineCount: Int) -> Int {
    roundUp(lineCount * 16, to: 64)
  }

  static let activeBit: UInt64 = 1 << 47

  static func initialControlWord(salt: UInt64) -> UInt64 {
    encodeState(epoch: 0, active: false, salt: salt)
  }

  /// Nil: the home copy is current after every msync.
  static func checkpointEpoch(controlWord: UInt64, salt: UInt64) -> UInt64? { nil }

  package static func encodeState(epoch: UInt64, active: Bool, salt: UInt64) -> UInt64 {
    ControlWord.seal(epoch | (active ? activeBit : 0), salt: salt)
  }

  /// The epoch and active bit of a state word, or nil when its check bits do not match.
  package static func decodeState(_ word: UInt64, salt: UInt64) -> (epoch: UInt64, active: Bool)? {
    ControlWord.open(word, salt: salt).map { ($0 & (activeBit - 1), $0 & activeBit != 0) }
  }

  /// Marks the log empty with `epoch` in one aligned 8-byte store and makes that durable: the commit of
  /// `epoch` is complete, and the log is retired.
  static func markEmpty<Medium: MemoryMedium>(epoch: UInt64, medium: Medium, salt: UInt64) {
    medium.storeWord(encodeState(epoch: epoch, active: false, salt: salt), at: stateWord)
    medium.flush(at: stateWord, count: 8)
    medium.fence(unless: .dropRetireFence)
  }

  static func entryWord(line: Int, epoch: UInt64) -> UInt64 {
    UInt64(line) | (epoch & 0xFFFF_FFFF) << 32
  }

  /// The CRC of one entry: its metadata word and its line image.
  @inline(__always)
  static func entryChecksum(word: UInt64, image: UnsafeRawPointer, _ crc: CRC32C.Implementation) -> UInt32 {
    crc.update(crc.lineCRC(image), word: word)
  }

  /// The checksum of an active record, over the chain of entry checksums and the record's fields.
  static func recordChecksum(entryChain: ChecksumChain, epoch: UInt64, count: Int, salt: UInt64) -> UInt64 {
    var crc = CRC32C.update(CRC32C.update(~0, word: entryChain.value), word: epoch)
    crc = CRC32C.update(crc, word: UInt64(count))
    return UInt64(~CRC32C.update(crc, word: salt))
  }
}

/// The Snapshot paper's commit protocol, with its recovery bugs fixed.
///
/// - First store to a line in an epoch: the line's old image (the working copy still equals the durable
///   copy there) is streamed into the log with its metadata; completed metadata lines are flushed, not
///   fenced.
/// - msync: flush the metadata tail, write the active record (epoch, count, checksum), fence; stream
///   the changed lines home, fence; mark the log empty with the new epoch in one 8-byte store, flush,
///   fence. Three fences, whatever the size of the change.
/// - Recovery (`UndoJournal+Recovery`) undoes an active log in reverse order and retires it.
final class UndoJournal<Medium: MemoryMedium>: MemoryJournal {
  let medium: Medium
  var faults: Fault { medium.faults }
  let header: RegionHeader
  let working: UnsafeRawPointer
  /// Where a line's old image is read on its first store: the working copy, which still holds it, or
  /// the home copy when (with page tracking) lines are logged after they changed.
  let oldImages: UnsafeRawPointer
  let crc = CRC32C.Implementation.detected
  private(set) var epoch: UInt64
  private var count = 0
  private var entryChain = ChecksumChain()
  private(set) var bytesWritten = 0

  /// The undo journal's regions keep their size (`RegionHeader.canGrow`).
  var committedSize: Int { header.dataSize }

  func willGrow(to size: Int) {
    preconditionFailure("a region with the undo journal cannot grow")
  }

  func cancelGrowth() {}

  private var metadataOffset: Int { header.logOffset }
  private var imagesOffset: Int { header.logOffset + UndoJournalLayout.metadataSize(lineCount: header.lineCount) }

  init(
    medium: Medium, header: RegionHeader, path _: String, working: UnsafeMutableRawPointer, tracking: Region.Tracking, epoch: UInt64,
    maximumSize _: Int
  ) {
    self.medium = medium
    self.header = header
    // With page tracking, lines are logged at msync, after they changed: their old images come from
    // the home copy, which holds the last commit until then.
    self.oldImages = tracking == .pages ? UnsafeRawPointer(medium.base + header.dataOffset) : UnsafeRawPointer(working)
    self.working = UnsafeRawPointer(working)
    self.epoch = epoch
  }

  @_specialize(exported: false, where Medium == PersistentMemory)
  func lineWillChange(_ line: Int) {
    let index = count
    count += 1
    let image = oldImages + line * 64
    let word = UndoJournalLayout.entryWord(line: line, epoch: epoch + 1)
    let checksum = UndoJournalLayout.entryChecksum(word: word, image: image, crc)
    medium.streamLines(from: image, lineCount: 1, at: imagesOffset + index * 64)
    let record = metadataOffset + index * 16
    medium.storeWord(word, at: record)
    medium.storeWord(UInt64(checksum), at: record + 8)
    if index & 3 == 3 {
      medium.flushLog(at: record - 48, count: 64)
    }
    entryChain.add(UInt64(checksum))
    bytesWritten += 64 + 16
  }

  @_specialize(exported: false, where Medium == PersistentMemory)
  func commit(_ lines: UnsafeBufferPointer<UInt32>) {
    let next = epoch + 1
    if count & 3 != 0 {
      medium.flushLog(at: metadataOffset + (count & ~3) * 16, count: 64)
    }
    let checksum = UndoJournalLayout.recordChecksum(
      entryChain: entryChain, epoch: next, count: count, salt: header.salt)
    medium.storeWord(UInt64(count), at: UndoJournalLayout.countWord)
    medium.storeWord(checksum, at: UndoJournalLayout.checksumWord)
    medium.storeWord(UndoJournalLayout.encodeState(epoch: next, active: true, salt: header.salt), at: UndoJournalLayout.stateWord)
    medium.flushLog(at: UndoJournalLayout.stateWord, count: 24)
    medium.fence(unless: .dropCommitFence)

    if medium.faults.contains(.commitBeforePayload) {
      UndoJournalLayout.markEmpty(epoch: next, medium: medium, salt: header.salt)
    }
    for run in lines.lineRuns {
      medium.streamLines(
        from: working + run.first * 64, lineCount: run.count, at: header.dataOffset + run.first * 64)
    }
    medium.fence(unless: .dropHomeFence)
    UndoJournalLayout.markEmpty(epoch: next, medium: medium, salt: header.salt)
    bytesWritten += 24 + lines.count * 64 + 8

    epoch = next
    count = 0
    entryChain = ChecksumChain()
  }

  /// Until msync, the home copy holds the last commit.
  func restore(_ lines: UnsafeBufferPointer<UInt32>, into working: UnsafeMutableRawPointer) {
    for run in lines.lineRuns {
      (working + run.first * 64).copyMemory(from: medium.base + header.dataOffset + run.first * 64, byteCount: run.count * 64)
    }
    count = 0
    entryChain = ChecksumChain()
  }

  func checkpoint() {
    // Every msync leaves the home copy durable and the log empty: there is nothing to do.
  }
}
