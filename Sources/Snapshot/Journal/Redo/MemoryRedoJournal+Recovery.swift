import SystemPackage

extension MemoryRedoJournal {
  /// The log in the mapping, for reading.
  static func reader(medium: Medium, header: RegionHeader) -> RedoLogReader {
    RedoLogReader(
      base: medium.base + header.logOffset, size: medium.length - header.logOffset, salt: header.salt, lineCount: header.lineCount,
      lineChecksum: header.lineChecksum,
      skipChecksum: medium.faults.contains(.skipChecksum))
  }

  /// Reads the checkpoint word, the size records and the log and decides what recovery must do: replay
  /// every valid batch after the checkpoint, in epoch order, up to the first one that is missing or
  /// fails its checks.
  ///
  /// The log starts where the data ends, so the size comes first. A grow checkpoints before it records
  /// the new size for the next epoch, so the newest size record is either checkpointed already or
  /// names the epoch just after the checkpoint; then it holds only if that epoch's batch is at the
  /// start of the log it implies.
  static func planRecovery(medium: Medium, header: RegionHeader, path: String) throws(SnapshotError) -> RecoveryPlan {
    guard let checkpoint = RedoJournalLayout.checkpointEpoch(
      controlWord: medium.loadWord(at: RedoJournalLayout.checkpointWord), salt: header.salt)
    else {
      throw .logCorrupt(path: path, reason: "the checkpoint word fails its check")
    }
    let sizes = header.canGrow
      ? try SizeRecords.decode(UnsafeRawBufferPointer(start: medium.base, count: SizeRecords.bytes.upperBound), salt: header.salt, path: path)
      : SizeRecords.none
    let (size, abandoned) = try sizes.resolve(initial: header.dataSize, path: path) { record throws(SnapshotError) in
      guard record.epoch > checkpoint else { return true }
      guard record.epoch == checkpoint + 1 else {
        throw .logCorrupt(path: path, reason: "a size record names epoch \(record.epoch), past the commit after checkpoint \(checkpoint)")
      }
      let grown = header.resized(to: record.size)
      guard medium.length >= grown.logOffset + 64 else { return false }
      if case .valid = reader(medium: medium, header: grown).validateBatch(at: 0, epoch: record.epoch) { return true }
      return false
    }
    let resolved = header.resized(to: size)
    guard medium.length >= resolved.restingFileSize else {
      throw .truncated(path: path, size: Int64(medium.length), expected: Int64(resolved.restingFileSize))
    }
    var plan = try reader(medium: medium, header: resolved).scan(after: checkpoint, from: 0, path: path).plan(checkpoint: checkpoint)
    plan.dataSize = size
    plan.abandonedSizeSlot = abandoned
    return plan
  }

  /// Replays the batches of a plan into the home copy (the newest version of each line), then
  /// checkpoints. A crash before the checkpoint word is durable leaves the log as it was, and replaying
  /// again writes the same bytes.
  ///
  /// A size record whose grow never became durable is cleared first, after the file is cut back to the
  /// size in force (durably, so that the file is never longer than a size record allows).
  static func applyRecovery(_ plan: RecoveryPlan, medium: Medium, header: RegionHeader) throws(Errno) {
    if let slot = plan.abandonedSizeSlot, !medium.faults.contains(.keepAbandonedSize) {
      try medium.resize(to: header.restingFileSize)
      try medium.synchronizeLength()
      writeSizeRecord(nil, slot: slot, medium: medium, salt: header.salt)
    }
    if case .replay(let batches) = plan.work {
      let written = try LineBitmap(lineCount: header.lineCount)
      writeHome(batches: batches.map(\.offset)[...], medium: medium, header: header, written: written)
      if medium.faults.contains(.skipRetire) { return }
      writeCheckpoint(epoch: plan.epoch, medium: medium, header: header)
    }
    restLog(medium: medium, header: header)
  }
}
