import SystemPackage

/// The redo journal on an ordinary file system: one `fdatasync` per msync.
///
/// - msync appends one batch (the format of `RedoJournalLayout`, carrying the log's current salt) to
///   the log file with one `pwrite`, then `fdatasync`s the log: that is the commit point. A batch torn
///   by a crash fails its checksum.
/// - Checkpoint (before a batch that would take the log past `checkpointThreshold` bytes or past the
///   space written ahead for it, at close, on `Region.checkpoint()`, after recovery): the newest logged version of every line is written into the data file, which is
///   `fdatasync`ed; then the log header is rewritten in one sector with a new salt and the checkpoint
///   epoch, and the log `fdatasync`ed. The new salt invalidates every old batch at once. A log grown
///   for a large batch is then cut back to its resting size (not synced: a longer log after a crash
///   holds only retired batches).
/// - A batch larger than the whole resting log: after the checkpoint, the log file is allocated for
///   it before any byte is written (a full file system fails the msync with nothing changed); the
///   batch's own `fdatasync` makes the new length durable with it, so a commit still costs one.
/// - A commit that grows the region (`FileRedoJournal+Growth`) first lengthens the data file and
///   records the new size for its own epoch, each made durable, then writes its batch as any commit.
/// - A failed write or sync leaves the handle unusable: the kernel may have dropped the pages it could
///   not write, so retrying could report success for data that is gone. Every later commit throws the
///   first error; reopening recovers the last acknowledged commit. Only running out of space while
///   appending a batch is not fatal: nothing was committed, and msync can be retried.
final class FileRedoJournal<Medium: FileMedium>: CheckpointingJournal {
  let medium: Medium
  var faults: Fault { medium.faults }
  /// The header, with the data size the last commit made durable.
  var header: RegionHeader
  /// The size records in the data file's header page, as this journal last wrote them.
  var sizes: SizeRecords
  /// The size the next commit grows the region to.
  private var targetSize: Int?
  let working: UnsafeRawPointer
  let logPath: String
  let crc = CRC32C.Implementation.detected
  let lineChecksum: RedoJournalLayout.LineChecksum
  private(set) var epoch: UInt64
  private(set) var bytesWritten = 0
  var checkpointThreshold: Int
  private var logHeader: LogFileHeader
  /// Where the next batch goes in the log file.
  private var tail = LogFileHeader.batchesOffset
  /// The log file's size: batches up to it overwrite blocks the file system already holds, so they
  /// cannot run out of space. Only a batch larger than the whole log makes it grow, until the next
  /// checkpoint.
  private var capacity: Int
  /// The log file's size at rest.
  private var restingCapacity: Int { LogFileHeader.batchesOffset + header.logSize }
  /// Where each batch since the last checkpoint starts, relative to the first batch.
  private var batches: [Int] = []
  private var batch: [UInt8] = []
  private let scratch: LineBitmap
  /// The failure that made the handle unusable.
  private var failure: SnapshotError?

  static var defaultCheckpointThreshold: Int { 16 << 20 }

  init(
    medium: Medium, header: RegionHeader, sizes: SizeRecords, working: UnsafeRawPointer, logPath: String, logHeader: LogFileHeader,
    maximumSize: Int
  ) throws(Errno) {
    self.capacity = try medium.size(of: .log)
    self.medium = medium
    self.header = header
    lineChecksum = header.lineChecksum
    self.sizes = sizes
    self.working = working
    self.logPath = logPath
    self.logHeader = logHeader
    self.epoch = logHeader.checkpointEpoch
    self.checkpointThreshold = min(header.logSize, Self.defaultCheckpointThreshold)
    self.scratch = try LineBitmap(lineCount: maximumSize / 64)
  }

  func lineWillChange(_ line: Int) {}

  var committedSize: Int { header.dataSize }

  func willGrow(to size: Int) {
    targetSize = size
  }

  func cancelGrowth() {
    targetSize = nil
  }

  func commit(_ lines: UnsafeBufferPointer<UInt32>) throws(SnapshotError) {
    try commit(lines) {}
  }

  /// The lines are read when the batch is assembled, before its write and `fdatasync`.
  var logSpace: (used: Int, capacity: Int) {
    (tail - LogFileHeader.batchesOffset, capacity - LogFileHeader.batchesOffset)
  }

  func commit(_ lines: UnsafeBufferPointer<UInt32>, linesRead: () -> Void) throws(SnapshotError) {
    if let failure { throw failure }
    var runCount = 0
    for _ in lines.lineRuns { runCount += 1 }
    let size = RedoJournalLayout.batchSize(lineCount: lines.count, runCount: runCount)
    if tail - LogFileHeader.batchesOffset >= checkpointThreshold || tail + size > capacity {
      try checkpoint()
    }
    // After the checkpoint, which records the size it checkpoints: the grown size belongs to this
    // commit, not to the ones before it.
    if let targetSize {
      try grow(to: targetSize)
      self.targetSize = nil
    }
    if tail + size > capacity {
      let grown = roundUp(tail + size, to: RegionHeader.pageSize)
      do { try medium.resize(.log, to: grown) } catch {
        throw error == .noSpace || error == .fileTooLarge
          ? .noSpace(path: logPath, needed: Int64(grown)) : .system(path: logPath, operation: "allocate", errno: error)
      }
      capacity = grown
    }
    let next = epoch + 1
    assembleBatch(lines, runCount: runCount, epoch: next)
    linesRead()
    do {
      try batch.withBytes { bytes throws(Errno) in try medium.write(bytes, at: tail, to: .log) }
    } catch {
      if error == .noSpace || error == .fileTooLarge {
        throw .noSpace(path: logPath, needed: Int64(tail + batch.count))
      }
      throw poison(.commitFailed(path: logPath, operation: "write", errno: error))
    }
    if !medium.faults.contains(.skipLogSync) {
      do { try medium.synchronize(.log) } catch {
        throw poison(.commitFailed(path: logPath, operation: "fdatasync", errno: error))
      }
    }
    batches.append(tail - LogFileHeader.batchesOffset)
    tail += batch.count
    bytesWritten += batch.count
    epoch = next
  }

  /// Lays out the batch of `lines` in `batch`, with the log's current salt.
  private func assembleBatch(_ lines: UnsafeBufferPointer<UInt32>, runCount: Int, epoch next: UInt64) {
    batch.removeAll(keepingCapacity: true)
    batch.append(contentsOf: repeatElement(0, count: RedoJournalLayout.batchSize(lineCount: lines.count, runCount: runCount)))
    batch.withUnsafeMutableBytes { raw in
      RedoBatchEncoder(crc: crc, lineChecksum: lineChecksum, working: working).encode(
        lines, runCount: runCount, epoch: next, salt: logHeader.logSalt, into: BatchBuffer(base: raw.baseAddress!))
    }
  }

  /// The last committed contents of `lines`: the newest logged version, or the data file's.
  func restore(_ lines: UnsafeBufferPointer<UInt32>, into working: UnsafeMutableRawPointer) throws(SnapshotError) {
    for line in lines { scratch.insert(Int(line)) }
    defer { for line in lines { scratch.clearWord(containing: Int(line)) } }
    let log = batches.isEmpty ? [] : try readLog()
    var fromDataFile: [Int] = []
    log.withUnsafeBytes { bytes in
      var newest: [Int: Int] = [:]
      if !batches.isEmpty {
        let reader = self.reader(over: bytes)
        for batch in batches {
          reader.forEachRun(ofBatchAt: batch) { first, count, data in
            for line in first..<first + count where scratch.contains(line) {
              newest[line] = data + (line - first) * 64
            }
          }
        }
      }
      for line in lines.map(Int.init) {
        if let position = newest[line] {
          (working + line * 64).copyMemory(from: bytes.baseAddress! + position, byteCount: 64)
        } else {
          fromDataFile.append(line)
        }
      }
    }
    for line in fromDataFile {
      do {
        try medium.read(into: UnsafeMutableRawBufferPointer(start: working + line * 64, count: 64), at: header.dataOffset + line * 64, from: .data)
      } catch {
        throw .system(path: logPath, operation: "read the data file", errno: error)
      }
    }
  }

  func checkpoint() throws(SnapshotError) {
    if let failure { throw failure }
    guard !batches.isEmpty else { return }
    let log = try readLog()
    do throws(SnapshotError) {
      if medium.faults.contains(.commitBeforePayload) {
        try Self.resetLog(&logHeader, epoch: epoch, medium: medium, path: logPath)
      }
      let salt = logHeader.logSalt
      try log.withBytes { bytes throws(SnapshotError) in
        let reader = RedoLogReader(
          base: bytes.baseAddress!, size: bytes.count, salt: salt, lineCount: header.lineCount, lineChecksum: lineChecksum)
        let lines = try Self.writeHome(batches: batches[...], log: reader, medium: medium, header: header, written: scratch, path: logPath)
        bytesWritten += lines * 64
      }
      if medium.faults.contains(.restLogBeforeCheckpoint) {
        Self.restLog(medium: medium, header: header)
      }
      try Self.resetLog(&logHeader, epoch: epoch, medium: medium, path: logPath)
      bytesWritten += LogFileHeader.size
    } catch {
      throw poison(error)
    }
    batches.removeAll(keepingCapacity: true)
    tail = LogFileHeader.batchesOffset
    if capacity > restingCapacity, Self.restLog(medium: medium, header: header) {
      capacity = restingCapacity
    }
  }

  private func reader(over bytes: UnsafeRawBufferPointer) -> RedoLogReader {
    RedoLogReader(
      base: bytes.baseAddress!, size: bytes.count, salt: logHeader.logSalt, lineCount: header.lineCount, lineChecksum: lineChecksum,
      skipChecksum: medium.faults.contains(.skipChecksum))
  }

  /// The batches since the last checkpoint, read back from the log file (from the page cache, usually).
  private func readLog() throws(SnapshotError) -> [UInt8] {
    var log = [UInt8](repeating: 0, count: tail - LogFileHeader.batchesOffset)
    do {
      try log.withMutableBytes { bytes throws(Errno) in
        try medium.read(into: bytes, at: LogFileHeader.batchesOffset, from: .log)
      }
    } catch {
      throw .system(path: logPath, operation: "read", errno: error)
    }
    return log
  }

  func poison(_ error: SnapshotError) -> SnapshotError {
    failure = failure ?? error
    return failure!
  }
}

/// A batch assembled in memory for one write to the log file. Lines are copied in first and
/// checksummed as copied.
private struct BatchBuffer: RedoBatchSink {
  let base: UnsafeMutableRawPointer

  func storeWord(_ word: UInt64, at offset: Int) {
    base.storeBytes(of: word.littleEndian, toByteOffset: offset, as: UInt64.self)
  }

  func writeLines(from source: UnsafeRawPointer, count: Int, at offset: Int) -> UnsafeRawPointer {
    (base + offset).copyMemory(from: source, byteCount: count * 64)
    return UnsafeRawPointer(base + offset)
  }
}
