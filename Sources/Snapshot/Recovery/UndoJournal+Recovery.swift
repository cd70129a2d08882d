extension UndoJournal {
  /// Reads the control line and the log and decides what recovery must do.
  ///
  /// An active record is trusted only when its checksum, which covers every entry's checksum, matches.
  /// Otherwise its first fence never completed, so the home copy was not touched yet: the log is
  /// retired and the previous commit stands. When the record is valid but an entry's image fails its
  /// checksum, the same explanation holds only if the home copy is still untouched; a home line that
  /// differs from its valid undo image proves the first fence completed, and a bad entry after that
  /// point is corruption, reported and never applied.
  static func planRecovery(medium: Medium, header: RegionHeader, path: String) throws(SnapshotError) -> RecoveryPlan {
    let state = medium.loadWord(at: UndoJournalLayout.stateWord)
    let epoch = state >> 1
    guard state & 1 == 1 else { return RecoveryPlan(work: .nothing, epoch: epoch) }
    guard epoch > 0 else {
      throw .logCorrupt(path: path, reason: "active undo record with epoch 0")
    }
    let previous = epoch - 1
    let count = medium.loadWord(at: UndoJournalLayout.countWord)
    guard count > 0, count <= UInt64(header.lineCount) else {
      return RecoveryPlan(work: .abandonInterruptedCommit, epoch: previous)
    }
    let entries = Int(count)
    let metadata = header.logOffset
    let images = header.logOffset + UndoJournalLayout.metadataSize(lineCount: header.lineCount)
    var chain: UInt32 = ~0
    for index in 0..<entries {
      chain = CRC32C.update(chain, word: medium.loadWord(at: metadata + index * 16 + 8))
    }
    let recorded = medium.loadWord(at: UndoJournalLayout.checksumWord)
    guard recorded == UndoJournalLayout.recordChecksum(entryChain: chain, epoch: epoch, count: entries, salt: header.salt) else {
      return RecoveryPlan(work: .abandonInterruptedCommit, epoch: previous)
    }

    var firstBadEntry: Int?
    var homeChanged = false
    for index in 0..<entries {
      let word = medium.loadWord(at: metadata + index * 16)
      let line = Int(word & 0xFFFF_FFFF)
      let image = UnsafeRawPointer(medium.base + images + index * 64)
      let valid = word >> 32 == epoch & 0xFFFF_FFFF && line < header.lineCount
        && UInt64(UndoJournalLayout.entryChecksum(word: word, image: image, .detected)) == medium.loadWord(at: metadata + index * 16 + 8)
      if !valid {
        firstBadEntry = firstBadEntry ?? index
      } else if !homeChanged {
        homeChanged = !equalLines(image, UnsafeRawPointer(medium.base + header.dataOffset + line * 64))
      }
    }
    if let bad = firstBadEntry {
      if homeChanged {
        throw .logCorrupt(
          path: path, reason: "undo entry \(bad) of commit \(epoch) fails its checksum after the commit began")
      }
      return RecoveryPlan(work: .abandonInterruptedCommit, epoch: previous)
    }
    return RecoveryPlan(work: .undo(entryCount: entries), epoch: previous)
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
      for index in stride(from: entries - 1, through: 0, by: -1) {
        let line = Int(medium.loadWord(at: metadata + index * 16) & 0xFFFF_FFFF)
        medium.streamLines(from: medium.base + images + index * 64, lineCount: 1, at: header.dataOffset + line * 64)
      }
      medium.fence()
    }
    medium.storeWord(UndoJournalLayout.encodeState(epoch: plan.epoch, active: false), at: UndoJournalLayout.stateWord)
    medium.flush(at: UndoJournalLayout.stateWord, count: 8)
    medium.fence()
  }
}

func equalLines(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> Bool {
  for offset in stride(from: 0, to: 64, by: 8)
  where a.load(fromByteOffset: offset, as: UInt64.self) != b.load(fromByteOffset: offset, as: UInt64.self) {
    return false
  }
  return true
}
