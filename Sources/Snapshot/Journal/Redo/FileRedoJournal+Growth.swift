import SystemPackage

extension FileRedoJournal {
  /// Grows the region to `size` as part of the commit about to be written. The new size is recorded
  /// with the epoch of this commit, in the slot without the newest record, and synced; then the data
  /// file is allocated for the new size (zeros) and synced. Recovery believes the record only if it
  /// reaches that epoch. Recorded first, so that the file is never longer than a durable record
  /// allows; the batch follows with its own `fdatasync`, on a length that is durable.
  ///
  /// No space for the new size clears the record again and throws with nothing committed; a failed
  /// write or sync makes the handle unusable, as for any commit.
  func grow(to size: Int) throws(SnapshotError) {
    let grown = header.resized(to: size)
    let record = SizeRecords.Record(size: size, epoch: medium.faults.contains(.growOutsideCommit) ? epoch : epoch + 1)
    let slot = sizes.nextSlot
    let dataPath = RegionFile.dataPath(forLog: logPath)
    var outOfSpace = false
    do throws(Errno) {
      try Self.writeSizeRecord(record, slot: slot, medium: medium, salt: header.salt)
      do {
        try medium.resize(.data, to: grown.logOffset)
      } catch where error == .noSpace || error == .fileTooLarge {
        outOfSpace = true
        try medium.resize(.data, to: header.logOffset)
        try Self.writeSizeRecord(nil, slot: slot, medium: medium, salt: header.salt)
      }
      if !outOfSpace { try medium.synchronize(.data) }
    } catch {
      throw poison(.commitFailed(path: dataPath, operation: "grow the data file", errno: error))
    }
    if outOfSpace {
      sizes.slots[slot] = nil
      throw .noSpace(path: dataPath, needed: Int64(grown.logOffset))
    }
    header = grown
    sizes.slots[slot] = record
  }

  /// Writes `record` into size slot `slot` of the data file (or clears the slot, for nil) and syncs it.
  static func writeSizeRecord(_ record: SizeRecords.Record?, slot: Int, medium: Medium, salt: UInt64) throws(Errno) {
    var line = [UInt8](repeating: 0, count: 64)
    if let record {
      line.withUnsafeMutableBytes { raw in
        for (index, word) in SizeRecords.words(record, salt: salt).enumerated() {
          raw.storeBytes(of: word.littleEndian, toByteOffset: 8 * index, as: UInt64.self)
        }
      }
    }
    try line.withBytes { bytes throws(Errno) in try medium.write(bytes, at: SizeRecords.offsets[slot], to: .data) }
    try medium.synchronize(.data)
  }

  /// The size records in the data file's header page.
  static func readSizeRecords(medium: Medium, header: RegionHeader, path: String) throws(SnapshotError) -> SizeRecords {
    guard header.canGrow else { return SizeRecords.none }
    var page = [UInt8](repeating: 0, count: SizeRecords.bytes.upperBound)
    do {
      try page.withMutableBytes { bytes throws(Errno) in try medium.read(into: bytes, at: 0, from: .data) }
    } catch {
      throw .system(path: path, operation: "read", errno: error)
    }
    return try page.withBytes { bytes throws(SnapshotError) in try SizeRecords.decode(bytes, salt: header.salt, path: path) }
  }
}
