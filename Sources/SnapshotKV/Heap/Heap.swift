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
///
/// Every block header, free-list link and the top are checked before they are used: a heap whose
/// bytes were changed outside the library throws `SnapshotError.storeCorrupt` before anything is
/// changed, and never traps or walks a list without end.
public struct Heap<Memory: ContainerMemory> {
  public let memory: Memory
  /// Where the heap's header starts.
  public let offset: Int

  @inlinable static var magic: UInt64 { 0x3250_4145_4850_4E53 }  // "SNPHEAP2"
  /// The first format's magic: 15 size classes, 50% apart. Its blocks are not classes of this one.
  @inlinable static var formatOneMagic: UInt64 { 0x3150_4145_4850_4E53 }  // "SNPHEAP1"
  @inlinable static var headerSize: Int { 512 }
  @inlinable static var blockHeader: Int { 16 }
  @inlinable static var largeUnit: Int { 4096 }
  @inlinable static var allocatedTag: UInt64 { 0xA11C_A7ED }
  @inlinable static var freeTag: UInt64 { 0xF4EE_B10C }

  // Header fields, as offsets from `offset`.
  @inlinable var magicField: Int { offset }
  @inlinable var topField: Int { offset + 8 }
  @inlinable var usedField: Int { offset + 16 }
  @inlinable var liveField: Int { offset + 24 }
  @inlinable var freeField: Int { offset + 32 }
  // offset + 40: unused, zero (the owner's root lives in the root record below).
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
    memory.store(UInt64(roundUp(offset + Self.headerSize, to: 16)), at: topField)
    memory.store(Self.magic, at: magicField)
  }

  /// Allocates a block with at least `size` bytes of payload and returns the payload's offset, growing
  /// the memory when no block fits and it can grow. Throws `SnapshotError.regionFull` before changing
  /// anything when no block fits even in the memory's maximum size.
  @inlinable public func allocate(_ size: Int) throws(SnapshotError) -> Int {
    precondition(size >= 0, "negative allocation size")
    let needed = size + Self.blockHeader
    let top = try self.top()
    if let index = HeapSizeClass.index(fitting: needed) {
      let blockSize = HeapSizeClass.size(index)
      let head = try freeBlock(at: classHead(index), top: top, size: blockSize)
      if head != 0 {
        // The next link becomes the head: checked now, so that the next allocation can trust it.
        let next = try freeBlock(at: head + Self.blockHeader, top: top, size: blockSize)
        memory.store(UInt64(next), at: classHead(index))
        return markAllocated(block: head, size: blockSize, fromFreeList: true)
      }
      return markAllocated(block: try bump(blockSize, top: top), size: blockSize, fromFreeList: false)
    }
    guard needed <= memory.maximumSize else {
      throw .regionFull(requested: size, available: largestAvailable - Self.blockHeader)
    }
    let blockSize = roundUp(needed, to: Self.largeUnit)
    if let block = try takeLarge(blockSize, top: top) {
      return markAllocated(block: block, size: blockSize, fromFreeList: true)
    }
    return markAllocated(block: try bump(blockSize, top: top), size: blockSize, fromFreeList: false)
  }

  /// Checks that `payload` is the payload of an allocated block, as `free` needs it to be. Containers
  /// call it before they change anything, for every allocation they will free.
  @inlinable public func checkAllocated(_ payload: Int) throws(SnapshotError) {
    let block = payload - Self.blockHeader
    guard payload & 15 == 0, block >= firstBlock else {
      throw .storeCorrupt(offset: payload, reason: "an allocation at \(payload) outside the heap")
    }
    _ = try checkBlock(block, top: try top(), tag: Self.allocatedTag, field: payload)
  }

  /// Frees the allocation whose payload starts at `payload`, which `checkAllocated` accepts.
  @inlinable public func free(_ payload: Int) {
    let block = payload - Self.blockHeader
    let size = Int(truncatingIfNeeded: memory.load(UInt64.self, at: block))
    precondition(memory.load(UInt64.self, at: block + 8) == Self.allocatedTag, "free of a block that is not allocated")
    adjust(usedField, by: -size)
    adjust(liveField, by: -1)
    pushFree(block, size: size)
  }

  /// Puts a block on the free list its size belongs to.
  @inlinable func pushFree(_ block: Int, size: Int) {
    memory.store(UInt64(size), at: block)
    memory.store(Self.freeTag, at: block + 8)
    let head = if let index = HeapSizeClass.index(of: size) { classHead(index) } else { largeFreeField }
    memory.store(memory.load(UInt64.self, at: head), at: block + Self.blockHeader)
    memory.store(UInt64(block), at: head)
    adjust(freeField, by: size)
  }

  /// The payload size of the allocation at `payload` (at least what was asked for).
  @inlinable public func capacity(of payload: Int) -> Int {
    Int(truncatingIfNeeded: memory.load(UInt64.self, at: payload - Self.blockHeader)) &- Self.blockHeader
  }

  @inlinable func markAllocated(block: Int, size: Int, fromFreeList: Bool) -> Int {
    memory.store(UInt64(size), at: block)
    memory.store(Self.allocatedTag, at: block + 8)
    adjust(usedField, by: size)
    adjust(liveField, by: 1)
    if fromFreeList { adjust(freeField, by: -size) }
    return block + Self.blockHeader
  }

  /// Cuts a fresh block from the top, growing the memory if it can when the block does not fit.
  @inlinable func bump(_ size: Int, top: Int) throws(SnapshotError) -> Int {
    if size > memory.size - top {
      guard size <= memory.maximumSize - top else {
        throw .regionFull(requested: size - Self.blockHeader, available: largestAvailable - Self.blockHeader)
      }
      try memory.grow(toHold: top + size)
    }
    memory.store(UInt64(top + size), at: topField)
    return top
  }

  /// First fit on the large free list; a block more than one unit too large is split, the rest staying
  /// on the list.
  @inlinable func takeLarge(_ size: Int, top: Int) throws(SnapshotError) -> Int? {
    var link = largeFreeField
    var block = try freeBlock(at: link, top: top)
    // Each block on the list is at least one unit: a longer walk means the list loops.
    var steps = (top - firstBlock) / Self.largeUnit
    while block != 0 {
      steps -= 1
      guard steps >= 0 else { throw .storeCorrupt(offset: link, reason: "the heap's large free list loops") }
      let blockSize = Int(memory.load(UInt64.self, at: block))
      let next = try freeBlock(at: block + Self.blockHeader, top: top)
      if blockSize >= size {
        memory.store(UInt64(next), at: link)
        if blockSize > size {
          // The rest goes back on the list its size belongs to; its bytes stay counted as free.
          adjust(freeField, by: -(blockSize - size))
          pushFree(block + size, size: blockSize - size)
        }
        return block
      }
      link = block + Self.blockHeader
      block = next
    }
    return nil
  }

  /// The largest block an allocation could get, for the message of `regionFull` (called after the
  /// top and the large free list were checked).
  @inlinable var largestAvailable: Int {
    var largest = memory.maximumSize - Int(memory.load(UInt64.self, at: topField))
    var block = Int(memory.load(UInt64.self, at: largeFreeField))
    while block != 0 {
      largest = max(largest, Int(memory.load(UInt64.self, at: block)))
      block = Int(memory.load(UInt64.self, at: block + Self.blockHeader))
    }
    return max(largest, Self.blockHeader)
  }

  // Counters are only reported, never trusted: a corrupted one wraps rather than traps.
  @inlinable func adjust(_ field: Int, by delta: Int) {
    memory.store(memory.load(UInt64.self, at: field) &+ UInt64(bitPattern: Int64(delta)), at: field)
  }

  /// Where the first block starts.
  @inlinable var firstBlock: Int { roundUp(offset + Self.headerSize, to: 16) }

  /// The top of the heap, checked: between the first block and the end of the memory, aligned.
  @inlinable func top() throws(SnapshotError) -> Int {
    let top = memory.load(UInt64.self, at: topField)
    guard top != 0 else {
      throw .storeCorrupt(offset: topField, reason: "the heap at offset \(offset) was never formatted")
    }
    guard top >= UInt64(firstBlock), top <= UInt64(memory.size), top & 15 == 0 else {
      throw .storeCorrupt(offset: topField, reason: "the heap's top \(top) lies outside the heap")
    }
    return Int(top)
  }

  /// The free block a free-list link at `field` points to, checked (0 ends the list): below the top,
  /// tagged free, of `size` bytes when given, else of a whole number of large units.
  @inlinable func freeBlock(at field: Int, top: Int, size: Int? = nil) throws(SnapshotError) -> Int {
    let link = memory.load(UInt64.self, at: field)
    guard link != 0 else { return 0 }
    guard link & 15 == 0, link >= UInt64(firstBlock), link < UInt64(top) else {
      throw .storeCorrupt(offset: field, reason: "a free-list link to \(link), outside the heap")
    }
    let block = Int(link)
    let blockSize = try checkBlock(block, top: top, tag: Self.freeTag, field: field)
    guard size.map({ blockSize == $0 }) ?? (blockSize > HeapSizeClass.largest && blockSize % Self.largeUnit == 0) else {
      throw .storeCorrupt(offset: block, reason: "a free block of \(blockSize) bytes on the list of another size")
    }
    return block
  }

  /// Checks the header of the block at `block` (16-byte aligned, at or above the first block):
  /// `tag`, and a size that is a class or a whole number of large units and ends at or below the top.
  /// Returns the size.
  @inlinable func checkBlock(_ block: Int, top: Int, tag: UInt64, field: Int) throws(SnapshotError) -> Int {
    guard block < top - Self.blockHeader else {
      throw .storeCorrupt(offset: field, reason: "a block at \(block), above the heap's top")
    }
    let size = memory.load(UInt64.self, at: block)
    guard size <= UInt64(top - block), size >= 32, size & 15 == 0,
      HeapSizeClass.index(of: Int(size)) != nil || size % UInt64(Self.largeUnit) == 0
    else {
      throw .storeCorrupt(offset: block, reason: "a heap block of size \(size)")
    }
    let found = memory.load(UInt64.self, at: block + 8)
    guard found == tag else {
      throw .storeCorrupt(
        offset: block + 8, reason: "a heap block tagged \(hex(found)) where \(tag == Self.allocatedTag ? "an allocated" : "a free") one belongs")
    }
    return Int(size)
  }

  /// Bytes in use, free for reuse, and never used.
  public var statistics: HeapStatistics {
    let top = Int(truncatingIfNeeded: memory.load(UInt64.self, at: topField))
    return HeapStatistics(
      usedBytes: Int(truncatingIfNeeded: memory.load(UInt64.self, at: usedField)),
      liveAllocations: Int(truncatingIfNeeded: memory.load(UInt64.self, at: liveField)),
      freeBytes: Int(truncatingIfNeeded: memory.load(UInt64.self, at: freeField)),
      untouchedBytes: memory.size &- top)
  }

  /// Checks the heap: every block from the start to the top has a valid header, the free lists hold
  /// exactly the free blocks, each in its size class, and the counters add up.
  public func check() throws(SnapshotError) {
    let top = try self.top()
    var block = firstBlock
    var used = 0, live = 0, free = 0
    var freeBlocks = Set<Int>()
    while block < top {
      let tag = memory.load(UInt64.self, at: block + 8)
      let size = try checkBlock(block, top: top, tag: tag == Self.allocatedTag ? tag : Self.freeTag, field: block)
      if tag == Self.allocatedTag {
        used += size
        live += 1
      } else {
        free += size
        freeBlocks.insert(block)
      }
      block += size
    }
    var listed = Set<Int>()
    for (index, head) in ((0..<HeapSizeClass.count).map(classHead) + [largeFreeField]).enumerated() {
      var link = head
      while true {
        let entry = try freeBlock(at: link, top: top, size: index < HeapSizeClass.count ? HeapSizeClass.size(index) : nil)
        if entry == 0 { break }
        guard listed.insert(entry).inserted else { throw .storeCorrupt(offset: link, reason: "block \(entry) is on a free list twice") }
        link = entry + Self.blockHeader
      }
    }
    guard listed == freeBlocks else {
      throw .storeCorrupt(offset: offset, reason: "the free lists hold \(listed.count) blocks, \(freeBlocks.count) are free")
    }
    let counted = statistics
    guard counted.usedBytes == used, counted.liveAllocations == live, counted.freeBytes == free else {
      throw .storeCorrupt(offset: usedField, reason: "the heap's counters (\(counted)) against used \(used), live \(live), free \(free)")
    }
  }

  #if DEBUG
  /// `check()`, as a precondition, for tests; compiled into debug builds only.
  package func _checkInvariants() {
    do { try check() } catch { preconditionFailure("\(error)") }
  }
  #endif
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
