import SystemPackage

extension RedoJournal {
  /// Reads the checkpoint word and the log and decides what recovery must do: replay every valid batch
  /// after the checkpoint, in epoch order, up to the first one that is missing or fails its checks.
  ///
  /// A batch that fails its checksum is what a crash during its msync leaves behind, so it ends the
  /// replay. A valid batch for the next epoch beyond it cannot come from a crash (it would have been
  /// written only after the failed one's fence), so that case is reported as corruption.
  static func planRecovery(medium: Medium, header: RegionHeader, path: String) throws(SnapshotError) -> RecoveryPlan {
    guard let checkpoint = RedoJournalLayout.decodeCheckpoint(
      medium.loadWord(at: RedoJournalLayout.checkpointWord), salt: header.salt)
    else {
      throw .logCorrupt(path: path, reason: "the checkpoint word fails its check")
    }
    var batches: [RecoveryPlan.RedoBatch] = []
    var position = 0
    var expected = checkpoint + 1
    var interrupted = false
    while true {
      switch validateBatch(at: position, epoch: expected, medium: medium, header: header) {
      case .valid(let batch, let size):
        batches.append(batch)
        position += size
        expected += 1
        continue
      case .torn:
        if let later = findBatch(epoch: expected + 1, after: position, medium: medium, header: header) {
          throw .logCorrupt(
            path: path,
            reason: "redo batch \(expected) at log offset \(position) fails its checksum, "
              + "but the batch committed after it is intact at log offset \(later)")
        }
        interrupted = true
      case .absent:
        break
      }
      break
    }
    if batches.isEmpty {
      return RecoveryPlan(work: interrupted ? .abandonInterruptedCommit : .nothing, epoch: checkpoint)
    }
    return RecoveryPlan(work: .replay(batches), epoch: expected - 1)
  }

  /// Replays the batches of a plan into the home copy (the newest version of each line), then
  /// checkpoints. A crash before the checkpoint word is durable leaves the log as it was, and replaying
  /// again writes the same bytes.
  static func applyRecovery(_ plan: RecoveryPlan, medium: Medium, header: RegionHeader) throws(Errno) {
    guard case .replay(let batches) = plan.work else { return }
    let written = try LineBitmap(lineCount: header.lineCount)
    RedoJournalLayout.writeHome(batches: batches.map(\.offset), medium: medium, header: header, written: written)
    if !medium.faults.contains(.skipRetire) {
      RedoJournalLayout.writeCheckpoint(epoch: plan.epoch, medium: medium, header: header)
    }
  }

  private enum BatchValidation {
    case valid(RecoveryPlan.RedoBatch, size: Int)
    /// A header for the expected epoch whose batch fails a check.
    case torn
    /// No batch for the expected epoch starts here.
    case absent
  }

  /// Checks the batch at `position`: epoch and salt (without them no batch of this epoch starts here),
  /// then magic, counts, that it fits in the log, that its runs are in range and add up, and its
  /// checksum.
  private static func validateBatch(
    at position: Int, epoch: UInt64, medium: Medium, header: RegionHeader
  ) -> BatchValidation {
    guard position + 64 <= header.logSize else { return .absent }
    let base = header.logOffset + position
    guard medium.loadWord(at: base + 8) == epoch, medium.loadWord(at: base + 16) == header.salt else {
      return .absent
    }
    let first = medium.loadWord(at: base)
    guard UInt32(truncatingIfNeeded: first) == RedoJournalLayout.magic else { return .torn }
    let counts = medium.loadWord(at: base + 24)
    let lineCount = Int(counts & 0xFFFF_FFFF)
    let runCount = Int(counts >> 32)
    guard lineCount > 0, runCount > 0, runCount <= lineCount, lineCount <= header.lineCount else { return .torn }
    let head = RedoJournalLayout.headSize(runCount: runCount)
    let size = head + 64 * lineCount
    guard size <= header.logSize - position else { return .torn }

    var checksum = RedoJournalLayout.Checksum(.detected, epoch: epoch, salt: header.salt, countsWord: counts)
    var lines = 0
    for run in 0..<runCount {
      let word = medium.loadWord(at: base + RedoJournalLayout.headerSize + run * 8)
      let firstLine = Int(word & 0xFFFF_FFFF)
      let count = Int(word >> 32)
      guard count > 0, firstLine + count <= header.lineCount else { return .torn }
      lines += count
      checksum.add(word: word)
    }
    guard lines == lineCount else { return .torn }
    checksum.add(lines: medium.base + base + head, count: lineCount)
    guard checksum.value == UInt32(truncatingIfNeeded: first >> 32) || medium.faults.contains(.skipChecksum) else {
      return .torn
    }
    return .valid(
      RecoveryPlan.RedoBatch(offset: position, epoch: epoch, lineCount: lineCount, runCount: runCount), size: size)
  }

  /// Looks for a valid batch of `epoch` at any line boundary after `position`.
  private static func findBatch(epoch: UInt64, after position: Int, medium: Medium, header: RegionHeader) -> Int? {
    for candidate in stride(from: position + 64, to: header.logSize, by: 64) {
      if case .valid = validateBatch(at: candidate, epoch: epoch, medium: medium, header: header) {
        return candidate
      }
    }
    return nil
  }
}
