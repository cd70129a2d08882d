/// The size a region has grown to: two records in the header page, after the journal's control line,
/// each holding a data size and the epoch of the commit that brought it. A region that never grew has
/// neither, and its size is the one in its header line.
///
/// Record, one line, little-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | data size in bytes |
/// | 8 | 8 | epoch of the commit that grew the region to this size |
/// | 16 | 4 | magic "SIZE" |
/// | 20 | 4 | CRC32C of the size, the epoch and the region's salt |
///
/// A grow is part of a commit. Before that commit's batch is written, the new size goes into the slot
/// that does not hold the newest record, and is made durable. Recovery believes a record whose epoch it
/// reaches (checkpointed, or its batch replayed); a record whose commit never became durable is
/// cleared, and the other one (or the header line) gives the size. So a crash leaves the old size with
/// the old data or the new size with the commit that grew it, never a mix. A torn record fails its
/// CRC and counts as absent: it was being written, so its commit was not durable either.
///
/// Only the slot without the newest record is ever written, and only once the newest one's commit is
/// durable, so the size recovery falls back to is always intact.
///
/// Every checkpoint of the redo journal also writes the size it checkpointed into the control line,
/// sealed as a `ControlWord`, after the checkpoint word. A size record damaged after its grow was
/// checkpointed would make recovery fall back to an older size and silently drop the data past it;
/// the checkpointed size, larger than the size resolved, refuses that instead. That word is zero until
/// the first checkpoint; any other value that fails its check is damage, and refused too.
struct SizeRecords: Equatable {
  /// Where the two records start in the header page.
  static let offsets = [RegionHeader.controlOffset + 64, RegionHeader.controlOffset + 128]
  /// The bytes of the header page that hold both records.
  static var bytes: Range<Int> { offsets[0]..<offsets[1] + 64 }
  static let magic: UInt32 = 0x455A_4953  // "SIZE"

  struct Record: Equatable {
    var size: Int
    var epoch: UInt64
  }

  /// Where the checkpointed size is, in the control line.
  static let checkpointedSizeOffset = RegionHeader.controlOffset + 8

  /// The valid record in each slot, if any.
  var slots: [Record?]
  /// The size the last checkpoint recorded, when its word is valid.
  var checkpointedSize: Int?

  /// A region that never grew, of a format without size records.
  static let none = SizeRecords(slots: [nil, nil])

  /// Reads both records from `page`, the first `bytes.upperBound` bytes of the header page. A record
  /// that fails its check counts as absent; one that passes it with an impossible size is corruption.
  static func decode(_ page: UnsafeRawBufferPointer, salt: UInt64, path: String) throws(SnapshotError) -> SizeRecords {
    var slots: [Record?] = []
    for offset in offsets {
      func word(_ index: Int) -> UInt64 {
        UInt64(littleEndian: page.loadUnaligned(fromByteOffset: offset + 8 * index, as: UInt64.self))
      }
      let record = Record(size: Int(truncatingIfNeeded: word(0)), epoch: word(1))
      guard word(2) == sealWord(record, salt: salt) else {
        slots.append(nil)
        continue
      }
      guard record.size > 0, record.size % RegionHeader.pageSize == 0, record.size <= RegionHeader.maximumDataSize else {
        throw .headerCorrupt(path: path, reason: "a size record holds the impossible size \(word(0))")
      }
      slots.append(record)
    }
    // The word is zero until the first checkpoint and only ever replaced whole, so any other value
    // that fails its check is damage: taken for an absent word, it would let a damaged size record
    // shrink the region silently.
    let word = UInt64(littleEndian: page.loadUnaligned(fromByteOffset: checkpointedSizeOffset, as: UInt64.self))
    let pages = ControlWord.open(word, salt: checkpointedSizeSalt(salt))
    if pages == nil && word != 0 {
      throw .headerCorrupt(path: path, reason: "the size recorded at the last checkpoint fails its check")
    }
    return SizeRecords(slots: slots, checkpointedSize: pages.map { Int($0) * RegionHeader.pageSize })
  }

  /// The control-line word that records `size` at a checkpoint.
  static func checkpointedSizeWord(_ size: Int, salt: UInt64) -> UInt64 {
    ControlWord.seal(UInt64(size / RegionHeader.pageSize), salt: checkpointedSizeSalt(salt))
  }

  /// A salt of its own, so that no checkpoint word passes for a size word.
  private static func checkpointedSizeSalt(_ salt: UInt64) -> UInt64 { salt ^ 0x5A5A_5A5A_5A5A_5A5A }

  /// The three words of `record` as written to its slot: size, epoch, then magic and check.
  static func words(_ record: Record, salt: UInt64) -> [UInt64] {
    [UInt64(record.size), record.epoch, sealWord(record, salt: salt)]
  }

  private static func sealWord(_ record: Record, salt: UInt64) -> UInt64 {
    let check = ~CRC32C.update(CRC32C.update(CRC32C.update(~0, word: UInt64(truncatingIfNeeded: record.size)), word: record.epoch), word: salt)
    return UInt64(magic) | UInt64(check) << 32
  }

  /// The slot of the record with the latest epoch.
  var newestSlot: Int? {
    slots.indices.filter { slots[$0] != nil }.max { slots[$0]!.epoch < slots[$1]!.epoch }
  }

  /// The slot the next grow writes: the one that does not hold the newest record.
  var nextSlot: Int { newestSlot.map { 1 - $0 } ?? 0 }

  /// The largest size recorded.
  var largestSize: Int? { slots.compactMap { $0?.size }.max() }

  /// The region's size, given which epochs recovery reaches: the newest record if `reached` says its
  /// commit is durable, else the other record or `initial` (the header line's size); and the slot to
  /// clear, holding a record whose commit never became durable. A size below the checkpointed size
  /// means a damaged record, and is refused.
  func resolve(
    initial: Int, path: String, reached: (Record) throws(SnapshotError) -> Bool
  ) throws(SnapshotError) -> (size: Int, abandonedSlot: Int?) {
    var resolved: (size: Int, abandonedSlot: Int?) = (initial, nil)
    if let newest = newestSlot {
      resolved = try reached(slots[newest]!) ? (slots[newest]!.size, nil) : (slots[1 - newest]?.size ?? initial, newest)
    }
    if let checkpointedSize, checkpointedSize > resolved.size {
      throw .headerCorrupt(
        path: path,
        reason: "the last checkpoint held \(checkpointedSize) bytes, but the size records give \(resolved.size): a size record is damaged")
    }
    return resolved
  }
}
