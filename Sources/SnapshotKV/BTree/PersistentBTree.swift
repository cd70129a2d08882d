import Snapshot

/// A B+tree of byte keys to byte values, laid out in a backend's memory: ordered, with range scans.
/// Every change goes through the backend's stores, so on a region it commits atomically at msync.
///
/// Root record (32 bytes): root node, entry count, first leaf, height. Node (one allocation): kind (4),
/// key count (4), next leaf (8), then 30 16-byte key prefixes (high half, low half), 30 key records
/// and, in inner nodes, 31 children: 984 bytes, so that a node and its block header fill a 1 KiB block.
/// Keys of up to 16 bytes are ordered by their prefixes alone, without reading their records.
/// A key record is key length (4), value length (4), the key, the value; leaves point to their entries'
/// records, inner nodes to separator records of their own (key only), so that freeing an entry never
/// frees a separator. Deletion removes entries without merging nodes.
///
/// Every structural field is checked before it is used (node offsets, kinds and key counts, record
/// offsets and lengths, the height, the leaf chain's length): a store whose bytes were changed outside
/// the library throws `SnapshotError.storeCorrupt` before anything is changed, and never traps.
public struct PersistentBTree<Backend: PersistenceBackend> {
  public let backend: Backend
  /// Where the root record lives.
  public let root: Int

  @inlinable static var order: Int { 30 }
  @inlinable static var nodeSize: Int { 16 + 24 * order + 8 * (order + 1) }
  @inlinable static var leafKind: UInt32 { 1 }
  @inlinable static var innerKind: UInt32 { 2 }
  /// No tree is taller: a node other than the root holds at least 15 keys, so height 16 would take
  /// more than 15^14 nodes.
  @inlinable static var maximumHeight: Int { 16 }

  /// The backend's memory, held here so that a load does not go through the backend object.
  @usableFromInline let memory: Backend.Memory
  /// The number of entries.
  @inlinable public var count: Int { Int(truncatingIfNeeded: memory.load(UInt64.self, at: root + 8)) }

  @inlinable public init(backend: Backend, root: Int) {
    self.backend = backend
    memory = backend.memory
    self.root = root
  }

  /// Creates an empty tree: one empty leaf.
  @inlinable public static func create(in backend: Backend) throws(SnapshotError) -> PersistentBTree {
    let root = try backend.allocate(32)
    let leaf: Int
    do { leaf = try backend.allocate(nodeSize) } catch {
      backend.free(root)
      throw error
    }
    let tree = PersistentBTree(backend: backend, root: root)
    backend.memory.prepareToChange(at: leaf, count: 16)
    tree.writeHeader(of: leaf, kind: leafKind, keyCount: 0, next: 0)
    backend.memory.store(UInt64(leaf), at: root)
    backend.memory.store(UInt64(0), at: root + 8)
    backend.memory.store(UInt64(leaf), at: root + 16)
    backend.memory.store(UInt64(1), at: root + 24)
    return tree
  }

  // MARK: Reading

  /// The value stored under `key`, read by `body`; nil when there is none.
  @inlinable public func withValue<R>(for key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) throws(SnapshotError) -> R? {
    guard let value = try valueRange(for: key) else { return nil }
    return memory.withBytes(at: value.lowerBound, count: value.count, body)
  }

  /// Where the value stored under `key` lives in the backend's memory; nil when there is none. Its
  /// bytes may be overwritten in place (with `update`, announcing the change) until the next change
  /// to the tree.
  @inlinable public func valueRange(for key: UnsafeRawBufferPointer) throws(SnapshotError) -> Range<Int>? {
    let (leaf, slot, found) = try locate(SearchKey(key))
    guard found else { return nil }
    let record = try recordOffset(leaf, slot)
    let start = record + 8 + recordKeyLength(record)
    return start..<start + recordValueLength(record)
  }

  /// Calls `body` with up to `limit` entries in key order, from the first key not less than `start`;
  /// `body` returns false to stop early.
  @inlinable public func scan(
    from start: UnsafeRawBufferPointer, limit: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Bool
  ) throws(SnapshotError) {
    var (leaf, position, _) = try locate(SearchKey(start))
    var remaining = limit
    // Leaves may be empty (deletion does not merge), so the chain is bounded by how many nodes fit.
    var hops = memory.size / Self.nodeSize
    while remaining > 0, leaf != 0 {
      if position >= keyCount(leaf) {
        hops -= 1
        guard hops >= 0 else { throw .storeCorrupt(offset: leaf + 8, reason: "the B+tree's leaf chain loops") }
        leaf = try node(at: leaf + 8, kind: Self.leafKind, optional: true)
        position = 0
        continue
      }
      let record = try recordOffset(leaf, position)
      let keyLength = recordKeyLength(record)
      let goOn = memory.withBytes(at: record + 8, count: keyLength + recordValueLength(record)) { bytes in
        body(UnsafeRawBufferPointer(rebasing: bytes[..<keyLength]), UnsafeRawBufferPointer(rebasing: bytes[keyLength...]))
      }
      guard goOn else { return }
      remaining -= 1
      position += 1
    }
  }

  // MARK: Layout

  /// A key being searched for, with its prefix computed once.
  @usableFromInline struct SearchKey {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline let prefix: KeyPrefix

    @inlinable init(_ bytes: UnsafeRawBufferPointer) {
      self.bytes = bytes
      prefix = KeyPrefix(bytes)
    }
  }

  /// Where `key` is, or would go: its leaf, the slot there, and whether the key is in that slot.
  @inlinable func locate(_ key: SearchKey) throws(SnapshotError) -> (leaf: Int, slot: Int, found: Bool) {
    let height = try self.height()
    var node = try node(at: root, kind: height == 1 ? Self.leafKind : Self.innerKind)
    for level in 1..<height {
      let index = try upperBound(key, in: node)
      node = try self.node(at: Self.childField(node, index), kind: level + 1 == height ? Self.leafKind : Self.innerKind)
    }
    let slot = try lowerBound(key, in: node)
    guard slot < keyCount(node) else { return (node, slot, false) }
    return (node, slot, try compare(key, withKeyAt: slot, in: node) == 0)
  }

  /// The first slot whose key is not less than `key`.
  @inlinable func lowerBound(_ key: SearchKey, in node: Int) throws(SnapshotError) -> Int {
    var low = 0, high = keyCount(node)
    while low < high {
      let middle = (low + high) / 2
      if try compare(key, withKeyAt: middle, in: node) > 0 { low = middle + 1 } else { high = middle }
    }
    return low
  }

  /// The first slot whose key is greater than `key`: the child to descend into.
  @inlinable func upperBound(_ key: SearchKey, in node: Int) throws(SnapshotError) -> Int {
    var low = 0, high = keyCount(node)
    while low < high {
      let middle = (low + high) / 2
      if try compare(key, withKeyAt: middle, in: node) >= 0 { low = middle + 1 } else { high = middle }
    }
    return low
  }

  /// Orders `key` against the key in `slot`: by the 16-byte prefixes first, by the bytes if those tie.
  @inlinable func compare(_ key: SearchKey, withKeyAt slot: Int, in node: Int) throws(SnapshotError) -> Int {
    let order = key.prefix.compare(prefix(node, slot))
    if order != 0 { return order }
    let record = try recordOffset(node, slot)
    return memory.withBytes(at: record + 8, count: recordKeyLength(record)) { compareBytes(key.bytes, $0) }
  }

  /// The tree's height, checked.
  @inlinable func height() throws(SnapshotError) -> Int {
    let height = try memory.loadCount(at: root + 24, maximum: Self.maximumHeight, "B+tree height")
    guard height > 0 else { throw .storeCorrupt(offset: root + 24, reason: "B+tree height 0") }
    return height
  }

  /// The node whose offset the field at `field` holds, checked: inside the store, of the `kind`
  /// expected at its depth, with at most `order` keys. With `optional`, 0 (no node) is accepted.
  @inlinable func node(at field: Int, kind: UInt32, optional: Bool = false) throws(SnapshotError) -> Int {
    let node = optional
      ? try memory.loadOptionalAllocation(at: field, length: Self.nodeSize, "B+tree node")
      : try memory.loadAllocation(at: field, length: Self.nodeSize, "B+tree node")
    guard node != 0 else { return 0 }
    let found = memory.load(UInt32.self, at: node)
    guard found == kind else {
      throw .storeCorrupt(offset: node, reason: "B+tree node of kind \(found) where kind \(kind) belongs")
    }
    guard keyCount(node) <= Self.order else {
      throw .storeCorrupt(offset: node + 4, reason: "B+tree node with \(keyCount(node)) keys, more than \(Self.order)")
    }
    return node
  }

  /// The key record of `slot`, checked to lie, with its key and value, inside the store.
  @inlinable func recordOffset(_ node: Int, _ slot: Int) throws(SnapshotError) -> Int {
    let record = try memory.loadAllocation(at: Self.recordField(node, slot), length: 8, "B+tree key record")
    guard recordKeyLength(record) + recordValueLength(record) <= memory.size - record - 8 else {
      throw .storeCorrupt(offset: record, reason: "B+tree key record whose lengths run past the end of the store")
    }
    return record
  }

  @inlinable func keyCount(_ node: Int) -> Int { Int(memory.load(UInt32.self, at: node + 4)) }
  @inlinable func prefix(_ node: Int, _ slot: Int) -> KeyPrefix {
    KeyPrefix(high: memory.load(UInt64.self, at: Self.prefixField(node, slot)), low: memory.load(UInt64.self, at: Self.prefixField(node, slot) + 8))
  }
  /// Where a slot's prefix (its high half, then its low half), record and child live.
  @inlinable static func prefixField(_ node: Int, _ slot: Int) -> Int { node + 16 + 16 * slot }
  @inlinable static func recordField(_ node: Int, _ slot: Int) -> Int { node + 16 + 16 * order + 8 * slot }
  @inlinable static func childField(_ node: Int, _ index: Int) -> Int { node + 16 + 24 * order + 8 * index }
  @inlinable func recordKeyLength(_ record: Int) -> Int { Int(memory.load(UInt32.self, at: record)) }
  @inlinable func recordValueLength(_ record: Int) -> Int { Int(memory.load(UInt32.self, at: record + 4)) }

  @inlinable func child(_ node: Int, _ index: Int) -> Int { Int(memory.load(UInt64.self, at: Self.childField(node, index))) }

  @inlinable func writeRecord(at record: Int, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
    memory.store(UInt32(key.count), at: record)
    memory.store(UInt32(value.count), at: record + 4)
    memory.copy(from: key, to: record + 8)
    memory.copy(from: value, to: record + 8 + key.count)
  }

  @inlinable func writeHeader(of node: Int, kind: UInt32, keyCount: Int, next: UInt64) {
    memory.store(kind, at: node)
    memory.store(UInt32(keyCount), at: node + 4)
    memory.store(next, at: node + 8)
  }

  /// A slot's contents: a key's prefix and the offset of its record.
  @usableFromInline typealias Slot = (prefix: KeyPrefix, record: Int)

  /// The slot as stored, unchecked: moving it copies its bits, and whoever follows its record checks
  /// the node first (`checkContents(of:)`), so a damaged offset is not a trap here.
  @inlinable func slot(_ node: Int, _ index: Int) -> Slot {
    (prefix(node, index), Int(truncatingIfNeeded: memory.load(UInt64.self, at: Self.recordField(node, index))))
  }

  @inlinable func write(_ slot: Slot, to node: Int, _ index: Int) {
    memory.store(slot.prefix.high, at: Self.prefixField(node, index))
    memory.store(slot.prefix.low, at: Self.prefixField(node, index) + 8)
    memory.store(UInt64(truncatingIfNeeded: slot.record), at: Self.recordField(node, index))
  }

  /// Checks the key records and, in an inner node, the children of `node` (whose kind and key count
  /// `node(at:kind:)` checked), before a change moves them.
  @inlinable func checkContents(of node: Int) throws(SnapshotError) {
    let count = keyCount(node)
    for slot in 0..<count { _ = try recordOffset(node, slot) }
    guard memory.load(UInt32.self, at: node) == Self.innerKind else { return }
    for index in 0...count { _ = try memory.loadAllocation(at: Self.childField(node, index), length: Self.nodeSize, "B+tree node") }
  }
}
