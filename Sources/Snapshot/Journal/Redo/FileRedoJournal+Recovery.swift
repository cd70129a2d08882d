import SystemPackage

extension FileRedoJournal {
  /// Reads the log file, replays every valid batch after its checkpoint into the data file (newest
  /// version of each line), makes that durable, and resets the log. Returns the plan (for the report)
  /// and the log header the region continues with.
  ///
  /// A crash at any point of this is recovered again the same way: the data file writes are
  /// idempotent, and the log keeps its batches until its header is reset, after the data file's sync.
  /// A size record whose grow never became durable is cleared first, after the data file is cut back
  /// to the size in force (durably, so that the file is never longer than a size record allows).
  static func recover(medium: Medium, header initial: RegionHeader, logPath: String) throws(SnapshotError) -> (RecoveryPlan, LogFileHeader) {
    let (plan, logHeader) = try planRecovery(medium: medium, header: initial, logPath: logPath)
    let header = initial.resized(to: plan.dataSize ?? initial.dataSize)
    if let slot = plan.abandonedSizeSlot, !medium.faults.contains(.keepAbandonedSize) {
      do throws(Errno) {
        try medium.resize(.data, to: header.logOffset)
        try medium.synchronize(.data)
        try writeSizeRecord(nil, slot: slot, medium: medium, salt: header.salt)
      } catch {
        throw .system(path: logPath, operation: "clear the size of an unfinished grow", errno: error)
      }
    }
    var current = logHeader
    guard plan.work.changesAnything else { return (plan, current) }
    if case .replay(let batches) = plan.work {
      let log = try readBatches(medium: medium, logPath: logPath)
      let written = try SnapshotError.allocating(logPath) { () throws(Errno) in try LineBitmap(lineCount: header.lineCount) }
      try log.withBytes { bytes throws(SnapshotError) in
        let reader = RedoLogReader(
          base: bytes.baseAddress!, size: bytes.count, salt: current.logSalt, lineCount: header.lineCount,
          lineChecksum: header.lineChecksum)
        try writeHome(batches: batches.map(\.offset)[...], log: reader, medium: medium, header: header, written: written, path: logPath)
      }
    }
    if !medium.faults.contains(.skipRetire) {
      try resetLog(&current, epoch: plan.epoch, medium: medium, path: logPath)
      restLog(medium: medium, header: header)
    }
    return (plan, current)
  }

  /// What recovery will do, reading only. The log lies in its own file, so its batches are found
  /// whatever the size; the size is then the newest record whose epoch recovery reaches.
  static func planRecovery(medium: Medium, header: RegionHeader, logPath: String) throws(SnapshotError) -> (RecoveryPlan, LogFileHeader) {
    var sector = [UInt8](repeating: 0, count: LogFileHeader.size)
    let logSize: Int
    do throws(Errno) {
      logSize = try medium.size(of: .log)
      if logSize >= LogFileHeader.batchesOffset {
        try sector.withMutableBytes { bytes throws(Errno) in try medium.read(into: bytes, at: 0, from: .log) }
      }
    } catch {
      throw .system(path: logPath, operation: "read", errno: error)
    }
    // The log file never shrinks below its resting size, written at creation, whatever a crash does.
    let minimumSize = LogFileHeader.batchesOffset + header.logSize
    guard logSize >= minimumSize else {
      throw .truncated(path: logPath, size: Int64(logSize), expected: Int64(minimumSize))
    }
    let logHeader = try LogFileHeader.decode(sector, regionSalt: header.salt, path: logPath)
    let sizes = try readSizeRecords(medium: medium, header: header, path: logPath)
    let dataPath = RegionFile.dataPath(forLog: logPath)
    let log = try readBatches(medium: medium, logPath: logPath)
    var plan = RecoveryPlan(work: .nothing, epoch: 0)
    var abandoned: Int?
    var size = header.dataSize
    try log.withBytes { bytes throws(SnapshotError) in
      // Batches are read for any line a region can have: the size is known only once it is known how
      // far they go, and a batch past a size that a damaged record gives is evidence of that damage.
      let reader = RedoLogReader(
        base: bytes.baseAddress!, size: bytes.count, salt: logHeader.logSalt, lineCount: RegionHeader.maximumDataSize / 64,
        lineChecksum: header.lineChecksum,
        skipChecksum: medium.faults.contains(.skipChecksum), growsOnlyFromStart: true)
      plan = try reader.scan(after: logHeader.checkpointEpoch, from: 0, path: logPath).plan(checkpoint: logHeader.checkpointEpoch)
      let reached = plan.epoch
      (size, abandoned) = try sizes.resolve(initial: header.dataSize, path: dataPath) { record throws(SnapshotError) in
        guard record.epoch > reached + 1 else { return record.epoch <= reached }
        throw .logCorrupt(path: logPath, reason: "a size record names epoch \(record.epoch), past the commit after epoch \(reached)")
      }
      if case .replay(let batches) = plan.work, let beyond = batches.first(where: { reader.lastLine(ofBatchAt: $0.offset) >= size / 64 }) {
        throw .headerCorrupt(
          path: dataPath,
          reason: "redo batch \(beyond.epoch) changes line \(reader.lastLine(ofBatchAt: beyond.offset)), past the region's \(size) bytes: a size record is damaged")
      }
    }
    let dataFileSize: Int
    do { dataFileSize = try medium.size(of: .data) } catch { throw .system(path: logPath, operation: "stat", errno: error) }
    guard dataFileSize >= header.resized(to: size).logOffset else {
      throw .truncated(path: dataPath, size: Int64(dataFileSize), expected: Int64(header.resized(to: size).logOffset))
    }
    plan.dataSize = size
    plan.abandonedSizeSlot = abandoned
    return (plan, logHeader)
  }

  /// Everything after the log header.
  private static func readBatches(medium: Medium, logPath: String) throws(SnapshotError) -> [UInt8] {
    do throws(Errno) {
      let size = try medium.size(of: .log)
      var log = [UInt8](repeating: 0, count: max(0, size - LogFileHeader.batchesOffset))
      try log.withMutableBytes { bytes throws(Errno) in
        try medium.read(into: bytes, at: LogFileHeader.batchesOffset, from: .log)
      }
      return log
    } catch {
      throw .system(path: logPath, operation: "read", errno: error)
    }
  }
}

extension RecoveryPlan.Work {
  /// Whether carrying out the plan writes anything.
  var changesAnything: Bool {
    if case .nothing = self { return false }
    return true
  }
}
