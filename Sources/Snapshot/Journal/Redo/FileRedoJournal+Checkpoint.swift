import SystemPackage

extension FileRedoJournal {
  /// Writes the newest version of every line of `batches` into the data file, and the size checkpointed
  /// into its control line (`SizeRecords`), and syncs it. Returns the number of lines written.
  @discardableResult
  static func writeHome(
    batches: ArraySlice<Int>, log: RedoLogReader, medium: Medium, header: RegionHeader, written: LineBitmap, path: String
  ) throws(SnapshotError) -> Int {
    var failure: Errno?
    var lines = 0
    log.forEachNewestRun(of: batches, visited: written) { line, count, data in
      guard failure == nil else { return }
      lines += count
      do throws(Errno) {
        try medium.write(UnsafeRawBufferPointer(start: log.base + data, count: count * 64), at: header.dataOffset + line * 64, to: .data)
      } catch {
        failure = error
      }
    }
    do throws(Errno) {
      if let failure { throw failure }
      if header.canGrow {
        let word = SizeRecords.checkpointedSizeWord(header.dataSize, salt: header.salt).littleEndian
        try withUnsafeBytes(of: word) { bytes throws(Errno) in try medium.write(bytes, at: SizeRecords.checkpointedSizeOffset, to: .data) }
      }
      if !medium.faults.contains(.skipDataSync) { try medium.synchronize(.data) }
    } catch {
      throw .commitFailed(path: path, operation: "checkpoint into the data file", errno: error)
    }
    return lines
  }

  /// Rewrites the log header with a new salt and `epoch` as the checkpoint, and syncs the log: every
  /// batch in the log is retired at once.
  static func resetLog(_ logHeader: inout LogFileHeader, epoch: UInt64, medium: Medium, path: String) throws(SnapshotError) {
    logHeader.logSalt = .random(in: 1...UInt64.max)
    logHeader.checkpointEpoch = epoch
    let bytes = logHeader.encoded()
    do {
      try bytes.withBytes { raw throws(Errno) in
        if medium.faults.contains(.splitCommitWord) {
          try medium.write(UnsafeRawBufferPointer(rebasing: raw[0..<24]), at: 0, to: .log)
          try medium.write(UnsafeRawBufferPointer(rebasing: raw[24...]), at: 24, to: .log)
        } else {
          try medium.write(raw, at: 0, to: .log)
        }
      }
      try medium.synchronize(.log)
    } catch {
      throw .commitFailed(path: path, operation: "reset the log", errno: error)
    }
  }

  /// Cuts a log file grown for a large batch back to its resting size, once its header's reset has
  /// retired the batches in it. Not synced: if a crash undoes the cut, the longer log holds only
  /// retired batches. Returns whether the log is at its resting size; a cut that fails leaves it
  /// longer, which costs space, not data.
  @discardableResult
  static func restLog(medium: Medium, header: RegionHeader) -> Bool {
    let resting = LogFileHeader.batchesOffset + header.logSize
    guard let size = try? medium.size(of: .log) else { return false }
    guard size > resting else { return true }
    return (try? medium.resize(.log, to: resting)) != nil
  }
}
