import SystemPackage

extension MemoryRedoJournal {
  /// The log in the mapping, for reading.
  static func reader(medium: Medium, header: RegionHeader) -> RedoLogReader {
    RedoLogReader(
      base: medium.base + header.logOffset, size: medium.length - header.logOffset, salt: header.salt, lineCount: header.lineCount,
      skipChecksum: medium.faults.contains(.skipChecksum))
  }

  /// Reads the checkpoint word and the log and decides what recovery must do: replay every valid batch
  /// after the checkpoint, in epoch order, up to the first one that is missing or fails its checks.
  static func planRecovery(medium: Medium, header: RegionHeader, path: String) throws(SnapshotError) -> RecoveryPlan {
    guard let checkpoint = RedoJournalLayout.checkpointEpoch(
      controlWord: medium.loadWord(at: RedoJournalLayout.checkpointWord), salt: header.salt)
    else {
      throw .logCorrupt(path: path, reason: "the checkpoint word fails its check")
    }
    return try reader(medium: medium, header: header).scan(after: checkpoint, from: 0, path: path).plan(checkpoint: checkpoint)
  }

  /// Replays the batches of a plan into the home copy (the newest version of each line), then
  /// checkpoints. A crash before the checkpoint word is durable leaves the log as it was, and replaying
  /// again writes the same bytes.
  static func applyRecovery(_ plan: RecoveryPlan, medium: Medium, header: RegionHeader) throws(Errno) {
    if case .replay(let batches) = plan.work {
      let written = try LineBitmap(lineCount: header.lineCount)
      writeHome(batches: batches.map(\.offset), medium: medium, header: header, written: written)
      if medium.faults.contains(.skipRetire) { return }
      writeCheckpoint(epoch: plan.epoch, medium: medium, header: header)
    }
    restLog(medium: medium, header: header)
  }
}
