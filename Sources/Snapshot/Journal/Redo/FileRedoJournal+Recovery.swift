import SystemPackage

extension FileRedoJournal {
  /// Reads the log file, replays every valid batch after its checkpoint into the data file (newest
  /// version of each line), makes that durable, and resets the log. Returns the plan (for the report)
  /// and the log header the region continues with.
  ///
  /// A crash at any point of this is recovered again the same way: the data file writes are
  /// idempotent, and the log keeps its batches until its header is reset, after the data file's sync.
  static func recover(medium: Medium, header: RegionHeader, logPath: String) throws(SnapshotError) -> (RecoveryPlan, LogFileHeader) {
    let (plan, logHeader) = try planRecovery(medium: medium, header: header, logPath: logPath)
    var current = logHeader
    guard plan.work.changesAnything else { return (plan, current) }
    if case .replay(let batches) = plan.work {
      let log = try readBatches(medium: medium, logPath: logPath)
      let written = try SnapshotError.allocating(logPath) { () throws(Errno) in try LineBitmap(lineCount: header.lineCount) }
      try log.withBytes { bytes throws(SnapshotError) in
        let reader = RedoLogReader(base: bytes.baseAddress!, size: bytes.count, salt: current.logSalt, lineCount: header.lineCount)
        try writeHome(batches: batches.map(\.offset), log: reader, medium: medium, header: header, written: written, path: logPath)
      }
    }
    if !medium.faults.contains(.skipRetire) {
      try resetLog(&current, epoch: plan.epoch, medium: medium, path: logPath)
      restLog(medium: medium, header: header)
    }
    return (plan, current)
  }

  /// What recovery will do, reading only.
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
    let log = try readBatches(medium: medium, logPath: logPath)
    let scan = try log.withBytes { bytes throws(SnapshotError) in
      try RedoLogReader(
        base: bytes.baseAddress!, size: bytes.count, salt: logHeader.logSalt, lineCount: header.lineCount,
        skipChecksum: medium.faults.contains(.skipChecksum), growsOnlyFromStart: true
      ).scan(after: logHeader.checkpointEpoch, from: 0, path: logPath)
    }
    return (scan.plan(checkpoint: logHeader.checkpointEpoch), logHeader)
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
