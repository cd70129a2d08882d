extension UndoJournal {
  /// Reads the control line and the log and decides what recovery must do.
  ///
  /// An active record is trusted only when its checksum, which covers every entry's checksum, matches
  /// and every entry matches its own checksum. Anything less is what a crash before the commit's first
  /// fence leaves, and then the home copy was not touched yet: the log is retired and the previous
  /// commit stands. That explanation holds only while the home copy is untouched, though: a home line
  /// that differs from its (valid) undo image proves the first fence completed, and a bad record or
  /// entry after that point is corruption, reported and never applied.
  static func planRecovery(medium: Medium, header: RegionHeader, path: String) throws(SnapshotError) -> RecoveryPlan {
    guard let (epoch, active) = UndoJournalLayout.decodeState(
      medium.loadWord(at: UndoJournalLayout.stateWord), salt: header.salt)
    else {
      throw .logCorrupt(path: path, reason: "the undo state word fails its check")
    }
    guard active else { return RecoveryPlan(work: .nothing, epoch: epoch) }
    guard epoch > 0 else {
      throw .logCorrupt(path: path, reason: "active undo record with epoch 0")
    }
    let previous = epoch - 1
    let count = medium.loadWord(at: UndoJournalLayout.countWord)
    guard count <= UInt64(header.lineCount) else {
      throw .logCorrupt(path: path, reason: "the undo record counts \(count) entries in a region of \(header.lineCount) lines")
    }
    let entries = Int(count)
    let metadata = header.logOffset
    let images = header.logOffset + UndoJournalLayout.metadataSize(lineCount: header.lineCount)
    var chain = ChecksumChain()
    var firstBadEntry: Int?
    var homeChanged = false
    for index in 0..<entries {
      let word = medium.loadWord(at: metadata + index * 16)
      let stored = medium.loadWord(at: metadata + index * 16 + 8)
      chain.add(stored & 0xFFFF_FFFF)
      let line = Int(word & 0xFFFF_FFFF)
      let image = UnsafeRawPointer(medium.base + images + index * 64)
      let valid = word >> 32 == epoch & 0xFFFF_FFFF && line < header.lineCount
        && (UInt64(UndoJournalLayout.entryChecksum(word: word, image: image, .detected)) == stored
          || medium.faults.contains(.skipChecksum))
      if !valid {
        firstBadEntry = firstBadEntry ?? index
      } else if !homeChanged {
        homeChanged = !equalLines(image, UnsafeRawPointer(medium.base + header.dataOffset + line * 64))
      }
    }
    let recordValid = entries > 0
      && medium.loadWord(at: UndoJournalLayout.checksumWord)
        == UndoJournalLayout.recordChecksum(entryChain: chain, epoch: epoch, count: entries, salt: header.salt)
    if recordValid && firstBadEntry == nil {
      return RecoveryPlan(work: .undo(entryCount: entries), epoch: previous)
    }
    if homeChanged {
      let what = recordValid ? "undo entry \(firstBadEntry!)" : "the active undo record"
      throw .logCorrupt(path: path, reason: "\(what) of commit \(epoch) fails its checksum after the commit began")
    }
    return RecoveryPlan(work: .abandonInterruptedCommit, epoch: previous)
  }

  /// Carries out a plan: restores the undo images in reverse order, makes them durable, then marks the
  /// log empty with the restored epoch. A crash at any point leaves the log active, so recovery runs
  /// again and does the same.
  static func applyRecovery(_ plan: RecoveryPlan, medium: Medium, header: RegionHeader) {
    switch plan.work {
    case .nothing, .replay:
      return
    case .abandonInterruptedCommit:
      break
    case .undo(let entries):
      let metadata = header.logOffset
      let images = header.logOffset + UndoJournalLayout.metadataSize(lineCount: header.lineCount)
      let forward = medium.faults.contains(.undoForwardOrder)
      for step in 0..<entries {
        let index = forward ? step : entries - 1 - step
        let line = Int(medium.loadWord(at: metadata + index * 16) & 0xFFFF_FFFF)
        medium.streamLines(from: medium.base + images + index * 64, lineCount: 1, at: header.dataOffset + line * 64)
      }
      medium.fence()
    }
    if !medium.faults.contains(.skipRetire) {
      UndoJournalLayout.markEmpty(epoch: plan.epoch, medium: medium, salt: header.salt)
    }
  }
}

func equalLines(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
  for offset in stride(from: 0, to: 64, by: 8)
  where a.load(fromByteOffset: offset, as: UInt64.self) != b.load(fromByteOffset: offset, as: UInt64.self) {
    return false
  }
  return true
}
