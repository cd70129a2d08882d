extension MemoryRedoJournal {
  /// Grows the region to `size` as part of the commit about to be written, whose batch takes `batchSize`
  /// bytes. The data file is `[header page][data][log]`, so the data grows into the log's place:
  ///
  /// 1. Checkpoint: the log holds nothing recovery needs, and its start can become data.
  /// 2. The new size is recorded with the epoch of this commit, in the slot without the newest record,
  ///    and made durable. Recovery believes it only if this commit's batch is found at the start of
  ///    the log it implies; until then the size in force stays the old one. Recorded first, so that
  ///    the file is never longer than a durable record allows.
  /// 3. The file is made long enough for the new data and a log that holds the batch; the bytes the
  ///    data takes over from the old log are zeroed (streamed, fenced), and the new length is made
  ///    durable: the batch must never rest on a length a crash could undo.
  ///
  /// Step 3 can fail (no space): the record is cleared again and the error thrown, with nothing
  /// committed. The batch only stores to memory, so once step 3 is done the commit always finishes.
  @inline(never)
  func grow(to size: Int, toHold batchSize: Int) throws(SnapshotError) {
    checkpoint()
    let grown = header.resized(to: size)
    let takenOver = header.logOffset..<min(grown.logOffset, medium.length)
    let length = grown.logOffset + max(header.logSize, roundUp(batchSize, to: RegionHeader.pageSize))
    let record = SizeRecords.Record(size: size, epoch: medium.faults.contains(.growOutsideCommit) ? epoch : epoch + 1)
    let slot = sizes.nextSlot
    Self.writeSizeRecord(record, slot: slot, medium: medium, salt: header.salt)
    do throws(SnapshotError) {
      try resizeDurably(to: length, operation: "grow the region") {
        guard !medium.faults.contains(.skipGrowZeroing) else { return }
        Self.zero(takenOver, medium: medium)
        medium.fence()
      }
    } catch {
      Self.writeSizeRecord(nil, slot: slot, medium: medium, salt: header.salt)
      sizes.slots[slot] = nil
      throw error
    }
    header = grown
    sizes.slots[slot] = record
  }

  /// Streams zeros over the line-aligned `range` of the durable copy; durable after the next fence.
  static func zero(_ range: Range<Int>, medium: Medium) {
    guard !range.isEmpty else { return }
    let chunkLines = 1024
    let zeros = UnsafeMutableRawPointer.allocate(byteCount: chunkLines * 64, alignment: 64)
    defer { zeros.deallocate() }
    zeros.initializeMemory(as: UInt8.self, repeating: 0, count: chunkLines * 64)
    var offset = range.lowerBound
    while offset < range.upperBound {
      let lines = min(chunkLines, (range.upperBound - offset) / 64)
      medium.streamLines(from: zeros, lineCount: lines, at: offset)
      offset += lines * 64
    }
  }

  /// Writes `record` into size slot `slot` (or clears the slot, for nil) and makes it durable. A
  /// record torn by a crash fails its check and counts as absent.
  static func writeSizeRecord(_ record: SizeRecords.Record?, slot: Int, medium: Medium, salt: UInt64) {
    let offset = SizeRecords.offsets[slot]
    if let record {
      for (index, word) in SizeRecords.words(record, salt: salt).enumerated() {
        medium.storeWord(word, at: offset + 8 * index)
      }
    } else {
      medium.storeWord(0, at: offset + 16)
    }
    medium.flush(at: offset, count: 64)
    medium.fence()
  }

  /// The size records in the header page of `medium`, whose region's header is `header`.
  static func sizeRecords(medium: Medium, header: RegionHeader) -> SizeRecords {
    guard header.canGrow else { return SizeRecords.none }
    // The records' words were checked when the file was opened; a record is only ever written whole
    // and checked, so one that fails here counts as absent, as it did there.
    return (try? SizeRecords.decode(
      UnsafeRawBufferPointer(start: medium.base, count: SizeRecords.bytes.upperBound), salt: header.salt, path: "")) ?? SizeRecords.none
  }
}
