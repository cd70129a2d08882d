import Snapshot

/// An allocator whose every piece of state lives in the memory it manages, so that on a region an
/// allocation or a free commits atomically with the data written into it: after any crash there is no
/// leak and no block handed out twice.
///
/// Layout, from `offset`: a 512-byte header, then blocks up to the end of the memory. A block is a
/// 16-byte header (its size, and a tag saying whether it is allocated) and a 16-byte-aligned payload.
/// Small blocks come in 28 size classes from 32 bytes to 4 KiB, at most 25% apart above 128 bytes (so a
/// block wastes at most a fifth of itself), each with a free list; larger ones are
/// whole multiples of 4 KiB on one first-fit free list, split when much larger than asked for. Fresh
/// blocks are cut from the top of the heap.
public struct Heap<Memory: PersistentMemoryAccess> {
  public let memory: Memory
  /// Where the heap's header starts.
  public let offset: Int

  @inlinable static var magic: UInt64 { 0x3250_4145_4850_4E53 }  // "SNPHEAP2"
  /// The first format's magic: 15 size classes, 50% apart. Its blocks are not classes of this one.
  @inlinable static var formatOneMagic: UInt64 { 0x3150_4145_4850_4E53 }  // "SNPHEAP1"
  @inlinable static var headerSize: Int { 512 }
  @inlinable static var blockHeader: Int { 16 }
  @inlinable static var classes: [Int] { [32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1152, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096] }
  @inlinable static var largeUnit: Int { 4096 }
  @inlinable static var allocatedTag: UInt64 { 0xA11C_A7ED }
  @inlinable static var freeTag: UInt64 { 0xF4EE_B10C }

  // Header fields, as offsets from `offset`.
  @inlinable var magicField: Int { offset }
  @inlinable var topField: Int { offset + 8 }
  @inlinable var usedField: Int { offset + 16 }
  @inlinable var liveField: Int { offset + 24 }
  @inlinable var freeField: Int { offset + 32 }
  @inlinable var rootField: Int { offset + 40 }
  @inlinable var largeFreeField: Int { offset + 48 }
  @inlinable func classHead(_ index: Int) -> Int { offset + 64 + index * 8 }
  /// 128 bytes of the header page are left for the owner's root record.
  @inlinable var rootRecordOffset: Int { offset + 384 }

  @inlinable public init(memory: Memory, offset: Int) {
    self.memory = memory
    self.offset = offset
  }

  /// The format this version lays out and reads.
  @inlinable public static var currentFormatVersion: UInt32 { 2 }

  /// Whether the memory holds a heap of the current format at `offset`.
  @inlinable public var isFormatted: Bool { formatVersion == Self.currentFormatVersion }

  /// The format version of the heap at `offset`: 2 for this one, 1 for the first format (which this
  /// version does not read), nil when there is no heap.
  @inlinable public var formatVersion: UInt32? {
    switch memory.load(UInt64.self, at: magicField) {
    case Self.magic: Self.currentFormatVersion
    case Self.formatOneMagic: 1
    default: nil
    }
  }

  /// Lays out an empty heap.
  @inlinable public func format() {
    memory.fill(0, at: offset, count: Self.headerSize)
    memory.store(UInt64(roundUp(offset + Self.headerSize, 16)), at: topField)
    memory.store(Self.magic, at: magicField)
  }

  /// The object the owner registered as its root, or 0.
  @inlinable public var root: Int {
    get { Int(memory.load(UInt64.self, at: rootField)) }
    nonmutating set { memory.store(UInt64(newValue), at: rootField) }
  }

  /// Allocates a block with at least `size` bytes of payload and returns the payload's offset.
  /// Throws `SnapshotError.regionFull` before changing anything when no block fits.
  @inlinable public func allocate(_ size: Int) throws(SnapshotError) -> Int {
    precondition(size >= 0, "negative allocation size")
    let needed = size + Self.blockHeader
    if let index = Self.classes.firstIndex(where: { $0 >= needed }) {
      let blockSize = Self.classes[index]
      let head = Int(memory.load(UInt64.self, at: classHead(index)))
      if head != 0 {
        memory.store(memory.load(UInt64.self, at: head + Self.blockHeader), at: classHead(index))
        return markAllocated(block: head, size: blockSize, fromFreeList: true)
      }
      return markAllocated(block: try bump(blockSize), size: blockSize, fromFreeList: false)
    }
    let blockSize = roundUp(needed, Self.largeUnit)
    if let block = takeLarge(blockSize) {
      return markAllocated(block: block, size: blockSize, fromFreeList: true)
    }
    return markAllocated(block: try bump(blockSize), size: blockSize, fromFreeList: false)
  }

  /// Frees the allocation whose payload starts at `payload`.
  @inlinable public func free(_ payload: Int) {
    let block = payload - Self.blockHeader
    let size = Int(memory.load(UInt64.self, at: block))
    precondition(memory.load(UInt64.self, at: block + 8) == Self.allocatedTag, "free of a block that is not allocated")
    adjust(usedField, by: -size)
    adjust(liveField, by: -1)
    pushFree(block, size: size)
  }

  /// Puts a block on the free list its size belongs to.
  @inlinable func pushFree(_ block: Int, size: Int) {
    memory.store(UInt64(size), at: block)
    memory.store(Self.freeTag, at: block + 8)
    let head = Self.classes.firstIndex(of: size).map(classHead) ?? largeFreeField
    memory.store(memory.load(UInt64.self, at: head), at: block + Self.blockHeader)
    memory.store(UInt64(block), at: head)
    adjust(freeField, by: size)
  }

  /// The payload size of the allocation at `payload` (at least what was asked for).
  @inlinable public func capacity(of payload: Int) -> Int {
    Int(memory.load(UInt64.self, at: payload - Self.blockHeader)) - Self.blockHeader
  }

  @inlinable func markAllocated(block: Int, size: Int, fromFreeList: Bool) -> Int {
    memory.store(UInt64(size), at: block)
    memory.store(Self.allocatedTag, at: block + 8)
    adjust(usedField, by: size)
    adjust(liveField, by: 1)
    if fromFreeList { adjust(freeField, by: -size) }
    return block + Self.blockHeader
  }

  @inlinable func bump(_ size: Int) throws(SnapshotError) -> Int {
    let top = Int(memory.load(UInt64.self, at: topField))
    precondition(top != 0, "the heap at offset \(offset) was never formatted: call format() first")
    guard top + size <= memory.size else {
      throw .regionFull(requested: size - Self.blockHeader, available: largestAvailable - Self.blockHeader)
    }
    memory.store(UInt64(top + size), at: topField)
    return top
  }

  /// First fit on the large free list; a block more than one unit too large is split, the rest staying
  /// on the list.
  @inlinable func takeLarge(_ size: Int) -> Int? {
    var link = largeFreeField
    var block = Int(memory.load(UInt64.self, at: link))
    while block != 0 {
      let blockSize = Int(memory.load(UInt64.self, at: block))
      let next = memory.load(UInt64.self, at: block + Self.blockHeader)
      if blockSize >= size {
        memory.store(next, at: link)
        if blockSize > size {
          // The rest goes back on the list its size belongs to; its bytes stay counted as free.
          adjust(freeField, by: -(blockSize - size))
          pushFree(block + size, size: blockSize - size)
        }
        return block
      }
      link = block + Self.blockHeader
      block = Int(next)
    }
    return nil
  }

  @inlinable var largestAvailable: Int {
    var largest = memory.size - Int(memory.load(UInt64.self, at: topField))
    var block = Int(memory.load(UInt64.self, at: largeFreeField))
    while block != 0 {
      largest = max(largest, Int(memory.load(UInt64.self, at: block)))
      block = Int(memory.load(UInt64.self, at: block + Self.blockHeader))
    }
    return max(largest, Self.blockHeader)
  }

  @inlinable func adjust(_ field: Int, by delta: Int) {
    memory.store(UInt64(Int(memory.load(UInt64.self, at: field)) + delta), at: field)
  }

  /// Bytes in use, free for reuse, and never used.
  public var statistics: HeapStatistics {
    let top = Int(memory.load(UInt64.self, at: topField))
    return HeapStatistics(
      usedBytes: Int(memory.load(UInt64.self, at: usedField)),
      liveAllocations: Int(memory.load(UInt64.self, at: liveField)),
      freeBytes: Int(memory.load(UInt64.self, at: freeField)),
      untouchedBytes: memory.size - top)
  }

  /// Checks the heap: every block from the start to the top has a valid header, the free lists hold
  /// exactly the free blocks, each in its size class, and the counters add up.
  public func _checkInvariants() {
    let top = Int(memory.load(UInt64.self, at: topField))
    var block = roundUp(offset + Self.headerSize, 16)
    var used = 0, live = 0, free = 0
    var freeBlocks = Set<Int>()
    while block < top {
      let size = Int(memory.load(UInt64.self, at: block))
      let tag = memory.load(UInt64.self, at: block + 8)
      precondition(size >= 32 && size % 16 == 0 && block + size <= top, "block \(block) has size \(size)")
      precondition(Self.classes.contains(size) || size % Self.largeUnit == 0, "block \(block) size \(size) is no class")
      if tag == Self.allocatedTag {
        used += size
        live += 1
      } else {
        precondition(tag == Self.freeTag, "block \(block) has tag \(tag)")
        free += size
        freeBlocks.insert(block)
      }
      block += size
    }
    precondition(block == top, "blocks end at \(block), the top is \(top)")
    var listed = Set<Int>()
    for head in (0..<Self.classes.count).map(classHead) + [largeFreeField] {
      var entry = Int(memory.load(UInt64.self, at: head))
      while entry != 0 {
        precondition(listed.insert(entry).inserted, "block \(entry) is listed twice")
        let size = Int(memory.load(UInt64.self, at: entry))
        precondition(head == largeFreeField ? !Self.classes.contains(size) : Self.classes[(head - classHead(0)) / 8] == size,
                     "block \(entry) of size \(size) is on the wrong list")
        entry = Int(memory.load(UInt64.self, at: entry + Self.blockHeader))
      }
    }
    precondition(listed == freeBlocks, "the free lists hold \(listed.count) blocks, \(freeBlocks.count) are free")
    precondition(statistics.usedBytes == used && statistics.liveAllocations == live && statistics.freeBytes == free,
                 "counters \(statistics) against used \(used), live \(live), free \(free)")
  }
}

/// What a heap holds.
public struct HeapStatistics: Sendable, Equatable, CustomStringConvertible {
  /// Bytes in allocated blocks, headers included.
  public var usedBytes: Int
  public var liveAllocations: Int
  /// Bytes in freed blocks, waiting for reuse.
  public var freeBytes: Int
  /// Bytes above the highest block ever cut.
  public var untouchedBytes: Int

  /// The share of the bytes the heap has cut that sit in free blocks: 0 is perfectly compact.
  public var fragmentation: Double {
    let cut = usedBytes + freeBytes
    return cut == 0 ? 0 : Double(freeBytes) / Double(cut)
  }

  public var description: String {
    "\(usedBytes) bytes used in \(liveAllocations) allocations, \(freeBytes) free for reuse, "
      + "\(untouchedBytes) untouched, fragmentation \(Int((fragmentation * 100).rounded()))%"
  }
}

@inline(__always)
@inlinable func roundUp(_ value: Int, _ multiple: Int) -> Int {
  (value + multiple - 1) / multiple * multiple
}
